package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/moby/moby/client"
)

// dockerfile runs the static zraftd alone: no shell, no libc, nothing to pull.
const dockerfile = "FROM scratch\nCOPY zraftd /zraftd\nENTRYPOINT [\"/zraftd\"]\n"

// BuildZraftd compiles zraftd statically (CGO_ENABLED=0, GOWORK=off) from the server
// module at serverDir into dir and returns the binary's path.
func BuildZraftd(ctx context.Context, serverDir, dir string) (string, error) {
	out := filepath.Join(dir, "zraftd")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/zraftd")
	cmd.Dir = serverDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("integration: build zraftd: %w\n%s", err, b)
	}
	return out, nil
}

// BuildImage builds the zraftd image from the static binary at binary, FROM scratch,
// and returns its tag. The caller removes it (RemoveImage).
func BuildImage(ctx context.Context, dc client.APIClient, binary string) (string, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("integration: image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"zraftd", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	tag := "zraft-integration/zraftd:" + randomHex(6)
	res, err := dc.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		return "", fmt.Errorf("integration: image build: %w", err)
	}
	defer res.Body.Close()
	// The build answers a JSON stream; a failed step is an "error" entry in it.
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("integration: image build output: %w", err)
		}
		if msg.Error != "" {
			return "", fmt.Errorf("integration: image build: %s", msg.Error)
		}
	}
	return tag, nil
}

// RemoveImage removes an image BuildImage built.
func RemoveImage(ctx context.Context, dc client.APIClient, tag string) error {
	_, err := dc.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
