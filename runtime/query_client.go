package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// QueryClient reads key-value stores of a running application through the
// query endpoint of any of its instances (see AdminAddr): the instance
// asked forwards a key's query to the instance that hosts it. Errors the
// instances report come back as *StoreError, so IsRetryable and errors.Is
// work as for local queries. Safe for concurrent use.
type QueryClient[K, V any] struct {
	http   *http.Client
	keys   serde.Serde[K]
	values serde.Serde[V]
}

// NewQueryClient returns a client that serializes keys and deserializes
// values with the serdes the topology uses for the store. A nil hc uses
// http.DefaultClient.
func NewQueryClient[K, V any](hc *http.Client, keys serde.Serde[K], values serde.Serde[V]) *QueryClient[K, V] {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &QueryClient[K, V]{http: hc, keys: keys, values: values}
}

// Get returns key's value in store, asking the instance whose application
// server is host (host:port).
func (c *QueryClient[K, V]) Get(ctx context.Context, host, store string, key K) (v V, ok bool, err error) {
	kb, err := c.keys.Serialize(store, nil, key)
	if err != nil {
		return v, false, fmt.Errorf("runtime: query client: serialize key: %w", err)
	}
	var resp getResponse
	if err := getJSON(ctx, c.http, host, "/v1/stores/"+url.PathEscape(store)+"/get", url.Values{"key64": {base64.StdEncoding.EncodeToString(kb)}}, &resp); err != nil {
		return v, false, err
	}
	if !resp.Found {
		return v, false, nil
	}
	v, err = c.decode(store, resp.Value64, resp.Timestamped)
	return v, err == nil, err
}

func (c *QueryClient[K, V]) decode(store string, raw []byte, timestamped bool) (V, error) {
	if timestamped {
		_, b, err := state.DecodeTimestamped(raw)
		if err != nil {
			var zero V
			return zero, fmt.Errorf("runtime: query client: store %q: %w", store, err)
		}
		raw = b
	}
	v, err := c.values.Deserialize(store, nil, raw)
	if err != nil {
		return v, fmt.Errorf("runtime: query client: store %q: deserialize value: %w", store, err)
	}
	return v, nil
}

// All calls fn with every entry of store, asking each instance that hosts
// an active partition of it (as host reports them) for its own partitions,
// until fn returns false. Entries come instance by instance.
func (c *QueryClient[K, V]) All(ctx context.Context, host, store string, fn func(K, V) bool) error {
	instances, err := Instances(ctx, c.http, host)
	if err != nil {
		return err
	}
	for _, m := range instances {
		if !contains(m.Stores, store) {
			continue
		}
		var resp allResponse
		if err := getJSON(ctx, c.http, m.Host, "/v1/stores/"+url.PathEscape(store)+"/all", nil, &resp); err != nil {
			return err
		}
		for _, e := range resp.Entries {
			k, err := c.keys.Deserialize(store, nil, e.Key64)
			if err != nil {
				return fmt.Errorf("runtime: query client: store %q: deserialize key: %w", store, err)
			}
			v, err := c.decode(store, e.Value64, resp.Timestamped)
			if err != nil {
				return err
			}
			if !fn(k, v) {
				return nil
			}
		}
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Instances asks the instance at host for every instance of the
// application and what it hosts. A nil hc uses http.DefaultClient.
func Instances(ctx context.Context, hc *http.Client, host string) ([]StreamsMetadata, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	var resp instancesResponse
	if err := getJSON(ctx, hc, host, "/v1/instances", nil, &resp); err != nil {
		return nil, err
	}
	return resp.Instances, nil
}

// RawGet is Get with the key and value as the store's bytes, for tools
// that bring their own formatting (kafki query). timestamped reports that
// value starts with the record timestamp (state.DecodeTimestamped).
func RawGet(ctx context.Context, hc *http.Client, host, store string, key []byte) (value []byte, found, timestamped bool, err error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	var resp getResponse
	if err := getJSON(ctx, hc, host, "/v1/stores/"+url.PathEscape(store)+"/get", url.Values{"key64": {base64.StdEncoding.EncodeToString(key)}}, &resp); err != nil {
		return nil, false, false, err
	}
	return resp.Value64, resp.Found, resp.Timestamped, nil
}

// getJSON GETs path on host and decodes the answer into out, or the
// endpoint's error into a *StoreError.
func getJSON(ctx context.Context, hc *http.Client, host, path string, q url.Values, out any) error {
	u := url.URL{Scheme: "http", Host: host, Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("runtime: query client: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("runtime: query client: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("runtime: query client: read answer of %s: %w", host, err)
	}
	if resp.StatusCode != http.StatusOK {
		var er errorResponse
		if json.Unmarshal(body, &er) != nil || er.Code == "" {
			return fmt.Errorf("runtime: query client: %s answered %s: %.200s", host, resp.Status, body)
		}
		for _, c := range errCodes {
			if c.code == er.Code {
				return &StoreError{Store: path, Partition: -1, Err: fmt.Errorf("%w (%s: %s)", c.err, host, er.Error)}
			}
		}
		return fmt.Errorf("runtime: query client: %s: %s", host, er.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("runtime: query client: decode answer of %s: %w", host, err)
	}
	return nil
}
