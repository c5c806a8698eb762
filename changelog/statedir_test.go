package changelog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateDirLayout(t *testing.T) {
	root := t.TempDir()
	sd, err := OpenStateDir(root, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if sd.Path() != filepath.Join(root, "my-app") {
		t.Fatalf("Path = %s", sd.Path())
	}
	td, err := sd.LockTask("1_3")
	if err != nil {
		t.Fatal(err)
	}
	defer td.Close()
	if got, want := td.StorePath("counts"), filepath.Join(root, "my-app", "1_3", "counts"); got != want {
		t.Errorf("StorePath = %s, want %s", got, want)
	}
	if got, want := td.CheckpointPath(), filepath.Join(root, "my-app", "1_3", ".checkpoint"); got != want {
		t.Errorf("CheckpointPath = %s, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "my-app", "1_3", ".lock")); err != nil {
		t.Errorf("no lock file: %v", err)
	}
	if _, err := sd.LockTask("0_0"); err != nil {
		t.Fatal(err)
	}
	ids, err := sd.TaskIDs()
	if err != nil || strings.Join(ids, ",") != "0_0,1_3" {
		t.Errorf("TaskIDs = %v, %v", ids, err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`} {
		if _, err := sd.LockTask(bad); err == nil {
			t.Errorf("LockTask(%q) succeeded", bad)
		}
	}
	if _, err := OpenStateDir(root, "../escape"); err == nil {
		t.Error("an application id with a slash was accepted")
	}
}

func TestLockContention(t *testing.T) {
	root := t.TempDir()
	first, err := OpenStateDir(root, "app")
	if err != nil {
		t.Fatal(err)
	}
	second, err := OpenStateDir(root, "app")
	if err != nil {
		t.Fatal(err)
	}
	held, err := first.LockTask("0_1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = second.LockTask("0_1")
	if !errors.Is(err, ErrStateDirLocked) {
		t.Fatalf("second LockTask = %v, want ErrStateDirLocked", err)
	}
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("error %T is not a *LockedError", err)
	}
	lockPath := filepath.Join(root, "app", "0_1", ".lock")
	if le.Path != lockPath || !strings.Contains(err.Error(), lockPath) {
		t.Errorf("error %q does not name the lock file %s", err, lockPath)
	}
	if !strings.Contains(le.Holder, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("holder %q does not name this process", le.Holder)
	}
	// Another task is not affected.
	other, err := second.LockTask("0_2")
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	// Removing a locked task is refused.
	if err := second.RemoveTask("0_1"); !errors.Is(err, ErrStateDirLocked) {
		t.Errorf("RemoveTask of a locked task = %v", err)
	}

	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if err := held.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again, err := second.LockTask("0_1")
	if err != nil {
		t.Fatalf("LockTask after Close: %v", err)
	}
	again.Close()

	if err := second.RemoveTask("0_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "app", "0_1")); !os.IsNotExist(err) {
		t.Errorf("task directory still there after RemoveTask: %v", err)
	}
	// And it can be locked again (the directory is re-created).
	recreated, err := second.LockTask("0_1")
	if err != nil {
		t.Fatal(err)
	}
	recreated.Close()
}

// The lock holds across processes: a child process (this test binary, run
// by TestMain as lockHolderChild) holds the lock until its stdin closes.
func TestLockContentionAcrossProcesses(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), lockChildEnv+"="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("child said %q, %v", line, err)
	}

	sd, err := OpenStateDir(root, "app")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sd.LockTask("2_0")
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrStateDirLocked) {
		t.Fatalf("LockTask while another process holds it = %v", err)
	}
	if !strings.Contains(le.Holder, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("holder %q does not name the child process %d", le.Holder, cmd.Process.Pid)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	// The lock went away with the child's hold.
	td, err := sd.LockTask("2_0")
	if err != nil {
		t.Fatalf("LockTask after the child let go: %v", err)
	}
	td.Close()
}

const lockChildEnv = "KAFKI_TEST_LOCK_CHILD"

func TestMain(m *testing.M) {
	if root := os.Getenv(lockChildEnv); root != "" {
		os.Exit(lockHolderChild(root))
	}
	os.Exit(m.Run())
}

func lockHolderChild(root string) int {
	sd, err := OpenStateDir(root, "app")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	td, err := sd.LockTask("2_0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	td.Close()
	return 0
}
