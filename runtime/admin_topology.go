package runtime

import (
	_ "embed"
	"net/http"
	"sync"
	"time"

	"github.com/kafki/kafki/topology"
)

// The topology pages of the admin server: the description as text and as
// Graphviz DOT, and an HTML page that draws the sub-topologies with each
// node's record rate, polling /topology.json once a second.

//go:embed admin_topology.html
var topologyPage []byte

// nodeRates samples the per-node record counts of the tasks hosted here
// once a second, so that a page load shows rates at once.
type nodeRates struct {
	mu          sync.Mutex
	prev, cur   map[string]int64 // node -> records, summed over tasks
	prevT, curT time.Time
}

func (r *nodeRates) sample(a *App) {
	counts := map[string]int64{}
	for _, lt := range a.local.taskList() {
		lt.task.NodeCounts(func(node string, n int64) { counts[node] += n })
	}
	now := time.Now()
	r.mu.Lock()
	r.prev, r.prevT = r.cur, r.curT
	r.cur, r.curT = counts, now
	r.mu.Unlock()
}

// rates returns the records per second of every node between the last two
// samples and the total records of the last one. A node whose tasks moved
// away counts zero, not a negative rate.
func (r *nodeRates) rates() (rates map[string]float64, totals map[string]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rates = map[string]float64{}
	dt := r.curT.Sub(r.prevT).Seconds()
	for n, c := range r.cur {
		if dt > 0 && r.prev != nil {
			rates[n] = max(float64(c-r.prev[n])/dt, 0)
		}
	}
	return rates, r.cur
}

func (s *adminServer) runSampler(done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s.rates.sample(s.app)
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

// topologyJSON is what the page draws.
type topologyJSON struct {
	Application   string                            `json:"application"`
	State         string                            `json:"state"`
	Host          string                            `json:"host,omitempty"`
	SubTopologies []topology.SubTopologyDescription `json:"sub_topologies"`
	GlobalStores  []topology.GlobalStoreDescription `json:"global_stores,omitempty"`
	Rates         map[string]float64                `json:"rates"`
	Totals        map[string]int64                  `json:"totals"`
	Tasks         []string                          `json:"tasks"`
}

func (s *adminServer) routeTopology(mux *http.ServeMux) {
	mux.HandleFunc("GET /topology", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(topologyPage)
	})
	mux.HandleFunc("GET /topology.txt", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(s.app.topo.Describe().String()))
	})
	mux.HandleFunc("GET /topology.dot", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/vnd.graphviz; charset=utf-8")
		_, _ = w.Write([]byte(s.app.topo.Describe().DOT()))
	})
	mux.HandleFunc("GET /topology.json", func(w http.ResponseWriter, _ *http.Request) {
		d := s.app.topo.Describe()
		rates, totals := s.rates.rates()
		out := topologyJSON{Application: s.app.appID, State: s.app.State().String(), Host: s.app.cfg.appServer,
			SubTopologies: d.SubTopologies, GlobalStores: d.GlobalStores, Rates: rates, Totals: totals, Tasks: []string{}}
		for _, lt := range s.app.local.taskList() {
			out.Tasks = append(out.Tasks, lt.id.String())
		}
		writeJSON(w, http.StatusOK, out)
	})
}
