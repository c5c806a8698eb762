package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// restError is Kafka Connect's error body.
type restError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if body != nil {
		json.NewEncoder(w).Encode(body)
	}
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	reply(w, code, restError{Code: code, Message: fmt.Sprintf(format, args...)})
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []taskID2         `json:"tasks"`
	Type   string            `json:"type"`
}

type taskID2 struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

type stateInfo struct {
	State  string `json:"state"`
	Worker string `json:"worker_id"`
	Trace  string `json:"trace,omitempty"`
}

type taskStateInfo struct {
	ID int `json:"id"`
	stateInfo
}

type statusInfo struct {
	Name      string          `json:"name"`
	Connector stateInfo       `json:"connector"`
	Tasks     []taskStateInfo `json:"tasks"`
	Type      string          `json:"type"`
}

func connectorType(cc ConnectorConfig) string {
	c, err := NewConnector(cc.Config["connector.class"])
	if err != nil {
		return "unknown"
	}
	if _, ok := c.(SourceConnector); ok {
		return "source"
	}
	return "sink"
}

// handler serves Kafka Connect's REST API.
func (d *Distributed) handler() http.Handler {
	mux := http.NewServeMux()
	get := func(name string) (ConnectorConfig, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		cc, ok := d.configs[name]
		return cc, ok
	}
	info := func(cc ConnectorConfig) connectorInfo {
		ci := connectorInfo{Name: cc.Name, Config: cc.Config, Type: connectorType(cc), Tasks: []taskID2{}}
		if _, tcs, err := taskConfigs(cc); err == nil {
			for i := range tcs {
				ci.Tasks = append(ci.Tasks, taskID2{cc.Name, i})
			}
		}
		return ci
	}
	put := func(w http.ResponseWriter, r *http.Request, cc ConnectorConfig, created int) {
		if cc.Config == nil {
			cc.Config = map[string]string{}
		}
		cc.Config["name"] = cc.Name
		conn, err := NewConnector(cc.Config["connector.class"])
		if err == nil {
			err = conn.Start(cc.Config)
		}
		if err != nil {
			fail(w, http.StatusBadRequest, "Connector configuration is invalid: %v", err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := d.write(ctx, "connector-"+cc.Name, cc); err != nil {
			fail(w, http.StatusInternalServerError, "%v", err)
			return
		}
		reply(w, created, info(cc))
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]string{"version": "kafki", "commit": "kafki", "kafka_cluster_id": ""})
	})
	mux.HandleFunc("GET /connectors", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		names := make([]string, 0, len(d.configs))
		for n := range d.configs {
			names = append(names, n)
		}
		d.mu.Unlock()
		sort.Strings(names)
		reply(w, 200, names)
	})
	mux.HandleFunc("POST /connectors", func(w http.ResponseWriter, r *http.Request) {
		var cc ConnectorConfig
		if err := json.NewDecoder(r.Body).Decode(&cc); err != nil || cc.Name == "" {
			fail(w, http.StatusBadRequest, "request body must be {\"name\": ..., \"config\": {...}}")
			return
		}
		if _, ok := get(cc.Name); ok {
			fail(w, http.StatusConflict, "Connector %s already exists", cc.Name)
			return
		}
		put(w, r, cc, http.StatusCreated)
	})
	found := func(w http.ResponseWriter, r *http.Request) (ConnectorConfig, bool) {
		cc, ok := get(r.PathValue("name"))
		if !ok {
			fail(w, http.StatusNotFound, "Connector %s not found", r.PathValue("name"))
		}
		return cc, ok
	}
	mux.HandleFunc("GET /connectors/{name}", func(w http.ResponseWriter, r *http.Request) {
		if cc, ok := found(w, r); ok {
			reply(w, 200, info(cc))
		}
	})
	mux.HandleFunc("GET /connectors/{name}/config", func(w http.ResponseWriter, r *http.Request) {
		if cc, ok := found(w, r); ok {
			reply(w, 200, cc.Config)
		}
	})
	mux.HandleFunc("PUT /connectors/{name}/config", func(w http.ResponseWriter, r *http.Request) {
		var cfg map[string]string
		if err := json.NewDecoder(r.Body).Decode(&cfg); err != nil {
			fail(w, http.StatusBadRequest, "request body must be a JSON object of settings")
			return
		}
		code := http.StatusOK
		if _, ok := get(r.PathValue("name")); !ok {
			code = http.StatusCreated
		}
		put(w, r, ConnectorConfig{Name: r.PathValue("name"), Config: cfg}, code)
	})
	mux.HandleFunc("GET /connectors/{name}/tasks", func(w http.ResponseWriter, r *http.Request) {
		if cc, ok := found(w, r); ok {
			reply(w, 200, info(cc).Tasks)
		}
	})
	mux.HandleFunc("GET /connectors/{name}/status", func(w http.ResponseWriter, r *http.Request) {
		cc, ok := found(w, r)
		if !ok {
			return
		}
		ci := info(cc)
		st := statusInfo{Name: cc.Name, Type: ci.Type, Tasks: []taskStateInfo{}}
		d.mu.Lock()
		paused := d.paused[cc.Name]
		for _, t := range ci.Tasks {
			rec, ok := d.status[statusKey(taskKey{cc.Name, t.Task})]
			if !ok {
				rec = taskStatusRec{State: StateUnassigned}
			}
			st.Tasks = append(st.Tasks, taskStateInfo{ID: t.Task, stateInfo: stateInfo{State: rec.State, Worker: rec.Worker, Trace: rec.Trace}})
		}
		d.mu.Unlock()
		st.Connector = stateInfo{State: StateRunning, Worker: d.id}
		if paused {
			st.Connector.State = StatePaused
		}
		if len(st.Tasks) > 0 && st.Tasks[0].Worker != "" {
			st.Connector.Worker = st.Tasks[0].Worker
		}
		reply(w, 200, st)
	})
	target := func(state string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			cc, ok := found(w, r)
			if !ok {
				return
			}
			if err := d.write(r.Context(), "target-state-"+cc.Name, map[string]string{"state": state}); err != nil {
				fail(w, http.StatusInternalServerError, "%v", err)
				return
			}
			reply(w, http.StatusAccepted, nil)
		}
	}
	mux.HandleFunc("PUT /connectors/{name}/pause", target(StatePaused))
	mux.HandleFunc("PUT /connectors/{name}/resume", target("STARTED"))
	restart := func(w http.ResponseWriter, r *http.Request) {
		cc, ok := found(w, r)
		if !ok {
			return
		}
		if id := r.PathValue("id"); id != "" {
			if _, err := strconv.Atoi(id); err != nil {
				fail(w, http.StatusBadRequest, "task id %q is not a number", id)
				return
			}
		}
		d.mu.Lock()
		seq := d.restarts[cc.Name] + 1
		d.mu.Unlock()
		if err := d.write(r.Context(), "restart-"+cc.Name, map[string]int64{"seq": seq}); err != nil {
			fail(w, http.StatusInternalServerError, "%v", err)
			return
		}
		reply(w, http.StatusNoContent, nil)
	}
	mux.HandleFunc("POST /connectors/{name}/restart", restart)
	mux.HandleFunc("POST /connectors/{name}/tasks/{id}/restart", restart)
	mux.HandleFunc("DELETE /connectors/{name}", func(w http.ResponseWriter, r *http.Request) {
		cc, ok := found(w, r)
		if !ok {
			return
		}
		if err := d.write(r.Context(), "connector-"+cc.Name, nil); err != nil {
			fail(w, http.StatusInternalServerError, "%v", err)
			return
		}
		reply(w, http.StatusNoContent, nil)
	})
	return mux
}
