package runtime

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/kafki/kafki/state"
)

// The query endpoint of the admin server. Keys and values travel as the
// bytes the store holds (base64 in JSON): the serdes stay with the
// caller's QueryClient, as they stay with the topology.
//
//	GET /v1/instances                          this instance and every instance's stores
//	GET /v1/stores/{store}/metadata?key64=...  KeyQueryMetadata of a key
//	GET /v1/stores/{store}/get?key64=...       a key's value, from whichever instance hosts it
//	GET /v1/stores/{store}/all                 the entries of this instance's partitions
//
// key= may replace key64= for a UTF-8 key; stale=1 allows standbys. A get
// for a key hosted elsewhere is forwarded once to the active host. Errors
// are JSON {error, code, retryable} with 503 for retryable ones.

// forwardedHeader marks a forwarded query, so that it is not forwarded
// again while the instances disagree on the assignment.
const forwardedHeader = "X-Kafki-Forwarded"

// getResponse is the answer of /get.
type getResponse struct {
	Found       bool   `json:"found"`
	Value64     []byte `json:"value64,omitempty"`
	Timestamped bool   `json:"timestamped,omitempty"`
	Partition   int32  `json:"partition"`
	Host        string `json:"host"`
}

type entry struct {
	Key64   []byte `json:"key64"`
	Value64 []byte `json:"value64"`
}

type allResponse struct {
	Entries     []entry `json:"entries"`
	Timestamped bool    `json:"timestamped,omitempty"`
	Host        string  `json:"host"`
}

type instancesResponse struct {
	Self      string            `json:"self"`
	Instances []StreamsMetadata `json:"instances"`
}

type errorResponse struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	Retryable bool   `json:"retryable"`
}

var errCodes = []struct {
	code string
	err  error
}{
	{"not_started", ErrStreamsNotStarted},
	{"unknown_store", ErrUnknownStateStore},
	{"restoring", ErrStoreRestoring},
	{"migrated", ErrStoreMigrated},
	{"not_available", ErrStoreNotAvailable},
	{"invalid_partition", ErrInvalidPartition},
}

func (s *adminServer) routeQueries(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/instances", s.instances)
	mux.HandleFunc("GET /v1/stores/{store}/metadata", s.keyMetadata)
	mux.HandleFunc("GET /v1/stores/{store}/get", s.get)
	mux.HandleFunc("GET /v1/stores/{store}/all", s.all)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	resp := errorResponse{Error: err.Error(), Code: "internal"}
	code := http.StatusInternalServerError
	var se *StoreError
	if errors.As(err, &se) {
		for _, c := range errCodes {
			if errors.Is(se.Err, c.err) {
				resp.Code = c.code
			}
		}
		resp.Retryable = se.Retryable()
		switch {
		case resp.Retryable:
			code = http.StatusServiceUnavailable
		case errors.Is(err, ErrUnknownStateStore):
			code = http.StatusNotFound
		default:
			code = http.StatusBadRequest
		}
	} else if errors.Is(err, errBadRequest) {
		resp.Code, code = "bad_request", http.StatusBadRequest
	}
	writeJSON(w, code, resp)
}

var errBadRequest = errors.New("bad request")

// keyParam reads key64= or key=.
func keyParam(r *http.Request) ([]byte, error) {
	q := r.URL.Query()
	if k := q.Get("key64"); k != "" {
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			return nil, fmt.Errorf("%w: key64 is not base64: %v", errBadRequest, err)
		}
		return b, nil
	}
	if q.Has("key") {
		return []byte(q.Get("key")), nil
	}
	return nil, fmt.Errorf("%w: no key64= or key= parameter", errBadRequest)
}

func queryOptsOf(r *http.Request) []QueryOpt {
	if r.URL.Query().Get("stale") == "1" {
		return []QueryOpt{StaleStores()}
	}
	return nil
}

func (s *adminServer) instances(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, instancesResponse{Self: s.app.cfg.appServer, Instances: s.app.AllMetadata()})
}

func (s *adminServer) keyMetadata(w http.ResponseWriter, r *http.Request) {
	kb, err := keyParam(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	t, err := s.app.target(r.PathValue("store"), -1, nil)
	if err != nil {
		writeErr(w, err)
		return
	}
	md, err := s.app.metadataForKeyBytes(t, kb)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, md)
}

func (s *adminServer) get(w http.ResponseWriter, r *http.Request) {
	kb, err := keyParam(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	t, err := s.app.target(r.PathValue("store"), state.KindKeyValue, queryOptsOf(r))
	if err != nil {
		writeErr(w, err)
		return
	}
	resp := getResponse{Timestamped: t.spec.Timestamped, Host: s.app.cfg.appServer, Partition: -1}
	err = t.readKey(kb, func(st state.Store) error {
		v, err := st.(state.KeyValueStore).Get(kb)
		resp.Found, resp.Value64 = v != nil, v
		return err
	})
	if errors.Is(err, ErrStoreMigrated) && r.Header.Get(forwardedHeader) == "" {
		if md, merr := s.app.metadataForKeyBytes(t, kb); merr == nil && md.ActiveHost != s.app.cfg.appServer {
			s.forward(w, r, md.ActiveHost)
			return
		}
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if _, n, err := t.resolve(); err == nil && n > 0 {
		resp.Partition = partitionOf(kb, n)
	}
	writeJSON(w, http.StatusOK, resp)
}

// forward passes a query on to the instance that hosts its key and copies
// the answer back.
func (s *adminServer) forward(w http.ResponseWriter, r *http.Request, host string) {
	u := url.URL{Scheme: "http", Host: host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		writeErr(w, err)
		return
	}
	req.Header.Set(forwardedHeader, s.app.cfg.appServer)
	resp, err := s.client.Do(req)
	if err != nil {
		// The host may just have left: the caller retries.
		writeErr(w, storeErr(r.PathValue("store"), -1, fmt.Errorf("%w: forwarding to %s: %v", ErrStoreMigrated, host, err)))
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (s *adminServer) all(w http.ResponseWriter, r *http.Request) {
	t, err := s.app.target(r.PathValue("store"), state.KindKeyValue, queryOptsOf(r))
	if err != nil {
		writeErr(w, err)
		return
	}
	resp := allResponse{Entries: []entry{}, Timestamped: t.spec.Timestamped, Host: s.app.cfg.appServer}
	err = t.readAll(func(stores []state.Store) error {
		its := make([]state.KeyValueIterator, 0, len(stores))
		for _, st := range stores {
			it, err := st.(state.KeyValueStore).All()
			if err != nil {
				for _, o := range its {
					o.Close()
				}
				return err
			}
			its = append(its, it)
		}
		return merge(its, compareKV(false), func(it state.KeyValueIterator) bool {
			resp.Entries = append(resp.Entries, entry{Key64: append([]byte(nil), it.Key()...), Value64: append([]byte(nil), it.Value()...)})
			return true
		})
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// forwardClient is the admin server's client for forwarded queries.
func newForwardClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }
