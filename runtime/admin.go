package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// AdminAddr turns on the admin HTTP server and sets the address it listens
// on ("127.0.0.1:8080"; port 0 picks a free one, see App.AdminAddr). The
// server answers:
//
//	/healthz        200 while the instance is alive, 503 once it failed or stopped
//	/readyz         200 when RUNNING with no active task restoring, else 503
//	/metrics        Prometheus metrics (see the README for the names)
//	/topology       the topology as an HTML page with live per-node rates;
//	                /topology.txt and /topology.dot as text and Graphviz DOT
//	/v1/...         the interactive-query endpoints (see QueryClient)
//
// Off by default. When ApplicationServer is not given, the instance
// advertises the address the server listens on.
func AdminAddr(addr string) Opt { return func(c *config) { c.adminAddr = addr } }

// ApplicationServer sets the host:port this instance advertises to the
// other instances for interactive queries (Kafka Streams'
// application.server): the address of its admin server as the others
// reach it. Given alone, the admin server listens on it.
func ApplicationServer(hostPort string) Opt { return func(c *config) { c.appServer = hostPort } }

// adminServer is the optional HTTP server of an instance.
type adminServer struct {
	app *App
	ln  net.Listener
	srv *http.Server
	reg *prometheus.Registry
	// client forwards queries to the instance hosting their key.
	client *http.Client
	rates  nodeRates
	done   chan struct{}
	once   sync.Once
}

// listenAdmin opens the admin listener. It runs in Start before anything
// else so that probes get answers while topics are set up and state is
// restored.
func (a *App) listenAdmin() error {
	addr := a.cfg.adminAddr
	if addr == "" {
		addr = a.cfg.appServer
	}
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("runtime: admin server: %w", err)
	}
	s := &adminServer{app: a, ln: ln, reg: prometheus.NewRegistry(), client: newForwardClient(), done: make(chan struct{})}
	s.reg.MustRegister(&promCollector{app: a})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: nil}))
	s.routeQueries(mux)
	s.routeTopology(mux)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.admin = s
	if a.cfg.appServer == "" {
		a.cfg.appServer = ln.Addr().String()
	}
	go s.runSampler(s.done)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cfg.logger.Warn("admin server stopped", "err", err)
		}
	}()
	return nil
}

// clientMetricsOpts hooks franz-go's Prometheus plugin into a client of the
// instance, with the client id as a label; nothing without the admin
// server.
func (a *App) clientMetricsOpts() []kgo.Opt {
	if a.admin == nil {
		return nil
	}
	return []kgo.Opt{kgo.WithHooks(kprom.NewMetrics("kafki_client", kprom.Registerer(a.admin.reg), kprom.WithClientLabel()))}
}

// closeAdmin stops the admin server; it runs when the instance has
// stopped, so that probes see the final state until then.
func (a *App) closeAdmin() {
	if a.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a.admin.once.Do(func() {
		close(a.admin.done)
		_ = a.admin.srv.Shutdown(ctx)
	})
}

// AdminAddr returns the address the admin server listens on, or "" when
// it is off (or Start has not run).
func (a *App) AdminAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.admin == nil {
		return ""
	}
	return a.admin.ln.Addr().String()
}

func (s *adminServer) healthz(w http.ResponseWriter, _ *http.Request) {
	st := s.app.State()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch st {
	case PendingError, Error, NotRunning:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, st)
}

// readyz is 200 when the instance is RUNNING and none of its active tasks
// is restoring: Kubernetes then sends it traffic (queries) and counts it
// as up in a rolling update.
func (s *adminServer) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.app.State()
	// Restorations of tasks assigned here now: one abandoned when its task
	// moved away stays unfinished in the snapshot.
	assigned := map[string]bool{}
	for _, th := range s.app.threadList() {
		for _, t := range th.bal.lastAssignment().Active {
			assigned[t.String()] = true
		}
	}
	var restoring []string
	for _, r := range s.app.metrics.snapshot().Restores {
		if !r.Standby && !r.Done && assigned[r.Task] {
			restoring = append(restoring, fmt.Sprintf("%s/%d (%d of %d)", r.Topic, r.Partition, r.Position-r.Start, r.End-r.Start))
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if st != Running || len(restoring) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, st)
		if len(restoring) > 0 {
			fmt.Fprintln(w, "restoring:", strings.Join(restoring, ", "))
		}
		return
	}
	fmt.Fprintln(w, st)
}
