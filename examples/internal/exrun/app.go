package exrun

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/topology"
)

// Main is an example's main: it parses the command line with parse, runs
// run until it returns or SIGINT or SIGTERM arrives, and exits with 2 on a
// flag error (0 on --help) and 1 when run fails, prefixing errors with
// name.
func Main[C any](name string, parse func(args []string, stderr io.Writer) (C, error),
	run func(ctx context.Context, cfg C, stdout io.Writer) error) {
	cfg, err := parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Parse parses args with fs and refuses positional arguments.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// AppOption configures RunApp.
type AppOption func(*appConfig)

type appConfig struct {
	stateDir string
	logger   *slog.Logger
	threads  int
	until    func(ctx context.Context, app *runtime.App) error
}

// StateDir keeps the application's state in dir instead of a temporary
// directory removed when RunApp returns. An empty dir changes nothing.
func StateDir(dir string) AppOption { return func(c *appConfig) { c.stateDir = dir } }

// Logger sets the runtime's logger (default: the runtime's own).
func Logger(l *slog.Logger) AppOption { return func(c *appConfig) { c.logger = l } }

// Threads sets the number of stream threads (default: the runtime's).
func Threads(n int) AppOption { return func(c *appConfig) { c.threads = n } }

// Until replaces what RunApp does while the application runs, which is by
// default to wait until it has processed its input (see WaitApp).
func Until(fn func(ctx context.Context, app *runtime.App) error) AppOption {
	return func(c *appConfig) { c.until = fn }
}

// Stats are what RunApp measured.
type Stats struct {
	// Processed counts the records the active tasks processed.
	Processed int64
	// Elapsed is the time from Start to the end of Close.
	Elapsed time.Duration
}

// RunApp runs topo as application appID on broker: it starts it with
// short commits, so that results appear (and drains are seen) soon, waits
// as its options say, and closes it.
func RunApp(ctx context.Context, broker *Broker, topo *topology.Topology, appID string, opts ...AppOption) (Stats, error) {
	var c appConfig
	for _, o := range opts {
		o(&c)
	}
	if c.stateDir == "" {
		dir, err := os.MkdirTemp("", strings.ReplaceAll(appID, string(os.PathSeparator), "_")+"-")
		if err != nil {
			return Stats{}, fmt.Errorf("state directory: %w", err)
		}
		defer os.RemoveAll(dir)
		c.stateDir = dir
	}
	ropts := []runtime.Opt{
		runtime.ClientConfig(broker.Config),
		runtime.SeedBrokers(broker.Addrs...),
		runtime.StateDir(c.stateDir),
		runtime.CommitInterval(200 * time.Millisecond),
	}
	if c.threads > 0 {
		ropts = append(ropts, runtime.NumStreamThreads(c.threads))
	}
	if c.logger != nil {
		ropts = append(ropts, runtime.Logger(c.logger))
	}
	app, err := runtime.New(topo, appID, ropts...)
	if err != nil {
		return Stats{}, fmt.Errorf("new application: %w", err)
	}
	began := time.Now()
	if err := app.Start(ctx); err != nil {
		return Stats{}, fmt.Errorf("start: %w", err)
	}
	var waitErr error
	if c.until != nil {
		waitErr = c.until(ctx, app)
	} else {
		waitErr = broker.WaitApp(ctx, app, appID, topo)
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer closeCancel()
	closeErr := app.Close(closeCtx)
	if waitErr != nil {
		return Stats{}, errors.Join(waitErr, closeErr)
	}
	if closeErr != nil {
		return Stats{}, fmt.Errorf("close: %w", closeErr)
	}
	st := Stats{Elapsed: time.Since(began)}
	for _, t := range app.Metrics().Tasks {
		if !t.Standby {
			st.Processed += t.Processed
		}
	}
	return st, nil
}

// WaitApp waits until the application appID running topo has processed
// its input (see WaitDrained), or failed, or ctx ended.
func (b *Broker) WaitApp(ctx context.Context, app *runtime.App, appID string, topo *topology.Topology) error {
	ctx, cancel := StopOnDone(ctx, app)
	defer cancel()
	err := b.WaitDrained(ctx, appID, topo, 100*time.Millisecond)
	if aerr := app.Err(); aerr != nil {
		return fmt.Errorf("application failed: %w", aerr)
	}
	return err
}

// StopOnDone returns a context that ends with ctx or as soon as app stops,
// so that a failed instance stops a wait at once. Call cancel when done.
func StopOnDone(ctx context.Context, app *runtime.App) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-app.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
