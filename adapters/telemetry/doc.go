// Package telemetry will hold the OpenTelemetry set-up of zraft (traces and metrics)
// and the carriers that move trace context through the protocol's extension block.
package telemetry
