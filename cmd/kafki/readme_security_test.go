package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the code block of the README that follows marker.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("README has no %s", marker)
	}
	s = s[i:]
	start := strings.Index(s, "```\n")
	end := strings.Index(s[start+4:], "```")
	return s[start+4 : start+4+end]
}

// runReadme runs a README block the way a reader would in a scratch
// directory with the built kafki on PATH: the commands before `kafki
// broker`, then the broker (on free ports instead of 9092), then the rest
// as one bash script. It returns the script's output.
func runReadme(t *testing.T, block string) string {
	t.Helper()
	bin := kafkiBinary(t)
	dir := t.TempDir()
	shell := func(script, brokers string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), EnvBrokers+"="+brokers)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("README commands failed: %v\nscript:\n%s\nstdout: %s\nstderr: %s", err, script, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	var before, after []string
	var brokerArgs []string
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "kafki broker "):
			for _, f := range strings.Fields(strings.TrimPrefix(line, "kafki broker ")) {
				if f == "127.0.0.1:9092" {
					f = "127.0.0.1:0"
				} else if strings.HasPrefix(f, "certs/") {
					f = filepath.Join(dir, f)
				}
				brokerArgs = append(brokerArgs, f)
			}
		case brokerArgs == nil:
			before = append(before, line)
		default:
			after = append(after, line)
		}
	}
	if brokerArgs == nil {
		t.Fatal("no kafki broker line in the block")
	}
	out := shell(strings.Join(before, "\n"), "")
	b := startBroker(t, brokerArgs...)
	first := strings.Split(b.bootstrap, ",")[0]
	out += shell(strings.ReplaceAll(strings.Join(after, "\n"), "127.0.0.1:9092", first), b.bootstrap)
	return out
}

// TestREADMESecuredQuickStart runs the README's secured quick starts: two-way
// TLS on three brokers with kafki and kcat, then SASL users and ACLs.
func TestREADMESecuredQuickStart(t *testing.T) {
	t.Parallel()
	kcatPath(t)
	out := runReadme(t, readmeBlock(t, "<!-- secured-quickstart -->"))
	if n := strings.Count(out, "This is another message"); n != 2 {
		t.Fatalf("want the message read by kafki and by kcat, got %d times:\n%s", n, out)
	}
	out = runReadme(t, readmeBlock(t, "<!-- sasl-quickstart -->"))
	for _, want := range []string{"Added 9 ACL(s)", "TRANSACTIONAL_ID", "User:alice"} {
		if !strings.Contains(out, want) {
			t.Fatalf("want %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alice-secret") || strings.Contains(out, "admin-secret") {
		t.Fatalf("a password is printed:\n%s", out)
	}
}
