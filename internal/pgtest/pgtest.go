package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Instance is one running PostgreSQL server.
type Instance struct {
	Port int
	Dir  string
	cmd  *exec.Cmd
}

// BinDir returns the directory of Debian's PostgreSQL server binaries
// (the highest version installed), or an error saying how to get them.
func BinDir() (string, error) {
	if d := os.Getenv("KAFKI_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run make setup (installs Debian's postgresql package)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// credential returns the postgres user to run as when this process is
// root, else nil.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user (Debian's postgresql package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// Start starts a server for t and stops it when t ends.
func Start(t testing.TB) *Instance {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := credential()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "kafki-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		for _, p := range []string{dir, data} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Dir = dir
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		return c
	}
	init := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	var inst *Instance
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(filepath.Join(dir, "server.log"))
		if err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			os.Chown(logf.Name(), int(cred.Uid), int(cred.Gid))
		}
		cmd := run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "wal_level=logical",
			"-c", "max_replication_slots=10", "-c", "max_wal_senders=10",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB", "-c", "max_connections=50")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start postgres: %v", err)
		}
		logf.Close()
		i := &Instance{Port: port, Dir: dir, cmd: cmd}
		if err := i.wait(60 * time.Second); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			if strings.Contains(string(log), "Address already in use") {
				continue // another process took the port: try another
			}
			t.Fatalf("postgres did not start: %v\n%s", err, log)
		}
		inst = i
		break
	}
	if inst == nil {
		t.Fatal("postgres: no free port after 3 attempts")
	}
	t.Cleanup(inst.stop)
	return inst
}

func (i *Instance) wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, i.DSN("postgres"))
		if err == nil {
			c.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		last = err
		if i.cmd.ProcessState != nil {
			return fmt.Errorf("server exited: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// stop shuts the server down fast (SIGINT), killing it when it does not.
func (i *Instance) stop() {
	i.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { i.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		i.cmd.Process.Kill()
		<-done
	}
}

// DSN returns a connection URL for database db as the postgres superuser.
func (i *Instance) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", i.Port, db)
}

// Exec runs SQL statements on database db, failing the test on error.
func (i *Instance) Exec(t testing.TB, db string, sqls ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, i.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range sqls {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// CreateDB creates a database.
func (i *Instance) CreateDB(t testing.TB, name string) {
	t.Helper()
	i.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}
