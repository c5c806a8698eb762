package stream_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMisuseDoesNotCompile builds each program under
// testdata/compilefail, which misuses the typed configuration (a serde of
// the wrong type, a configuration the operator does not take), and checks
// that the compiler rejects it with the message its first line wants.
// The programs are in this module, so they build against this checkout.
func TestMisuseDoesNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dirs, err := filepath.Glob("testdata/compilefail/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no programs: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			want, ok := strings.CutPrefix(first, "// want: ")
			if !ok {
				t.Fatalf("%s: first line must be // want: <message>", dir)
			}
			cmd := exec.Command(goCmd, "vet", "./"+dir)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("%s compiled; it must not", dir)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("%s: compiler said\n%s\nwant a message containing %q", dir, out, want)
			}
		})
	}
}
