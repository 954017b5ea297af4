package client

import (
	"strings"
	"testing"
)

// FuzzParseEndpoints: any input either fails with ErrInvalidEndpoints or yields members
// that pass validation and survive a round trip through their canonical form.
func FuzzParseEndpoints(f *testing.F) {
	for _, s := range []string{DefaultEndpoints, "a=tcp://x:1,b=tcp://y:2", "tcp://x:1", " , ", "a=tcp://x:1,a=tcp://x:2", "=", "a==tcp://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseEndpoints(s)
		if err != nil {
			return
		}
		if verr := validateMembers(ms); verr != nil {
			t.Fatalf("accepted %q but %v", s, verr)
		}
		parts := make([]string, len(ms))
		for i, m := range ms {
			parts[i] = m.ID + "=" + m.Endpoint
		}
		again, err := ParseEndpoints(strings.Join(parts, ","))
		if err != nil {
			// An id or endpoint holding "," or "=" cannot be written back; only that may fail.
			for _, m := range ms {
				if strings.ContainsAny(m.ID, ",=") || strings.Contains(m.Endpoint, ",") {
					return
				}
			}
			t.Fatalf("canonical form of %q refused: %v", s, err)
		}
		if len(again) != len(ms) {
			t.Fatalf("%q: %v then %v", s, ms, again)
		}
	})
}
