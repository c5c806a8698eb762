package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
)

// service answers GET /count/{word} for one instance.
type service struct {
	app    *runtime.App
	client *runtime.QueryClient[string, int64]
}

func newService(app *runtime.App) http.Handler {
	s := &service{app: app, client: runtime.NewQueryClient(&http.Client{Timeout: 5 * time.Second}, serde.String(), serde.Int64())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count/{word}", s.count)
	return mux
}

type countResponse struct {
	Word  string `json:"word"`
	Count int64  `json:"count"`
	// Host is the instance (admin server) that held the word.
	Host string `json:"host"`
}

// count finds the instance that holds the word and reads it there: from
// the local store when that is this instance, through the query client
// otherwise. While the word's task moves (a rebalance) the answer is a
// 503 the caller retries, never a stale or missing count.
func (s *service) count(w http.ResponseWriter, r *http.Request) {
	word := r.PathValue("word")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	md, err := runtime.QueryMetadataForKey(s.app, "counts", word, serde.String())
	var n int64
	var found bool
	if err == nil {
		if md.ActiveHost == s.app.AdminAddr() {
			var view *runtime.KeyValueView[string, int64]
			if view, err = runtime.KeyValueStoreView(s.app, "counts", serde.String(), serde.Int64()); err == nil {
				n, found, err = view.Get(word)
			}
		} else {
			n, found, err = s.client.Get(ctx, md.ActiveHost, "counts", word)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case err != nil && runtime.IsRetryable(err):
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	case err != nil:
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	case !found:
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(countResponse{Word: word, Host: md.ActiveHost})
	default:
		json.NewEncoder(w).Encode(countResponse{Word: word, Count: n, Host: md.ActiveHost})
	}
}
