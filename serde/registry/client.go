package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Client is a schema-registry client with caches and retries, for serdes.
//
// Schemas by id and the ids of (subject, schema) pairs never change once
// the registry has handed them out, so they are cached for the life of the
// client; concurrent misses for the same key share one request. Requests
// that fail with a network error, a 5xx or a 429 are retried with
// exponential backoff. Every other call of the REST API is available through
// [Client.SR], the underlying franz-go client.
//
// A Client is safe for concurrent use.
type Client struct {
	sr      *sr.Client
	retries int
	backoff time.Duration

	mu      sync.RWMutex
	byID    map[int]sr.Schema
	byVer   map[subjectVersion]sr.SubjectSchema
	ids     map[subjectSchema]sr.SubjectSchema
	pending map[any]*call
}

type subjectSchema struct {
	subject, schema string
	typ             sr.SchemaType
	refs            string // the references, rendered: the same text with other references is another schema
	register        bool
}

// subjectVersion keys the cache of schemas by subject and version.
type subjectVersion struct {
	subject string
	version int
}

func refsKey(refs []sr.SchemaReference) string {
	if len(refs) == 0 {
		return ""
	}
	return fmt.Sprint(refs)
}

type call struct {
	done chan struct{}
	val  any
	err  error
}

type clientConfig struct {
	srOpts  []sr.ClientOpt
	retries int
	backoff time.Duration
	timeout time.Duration
	tls     *tls.Config
	httpcl  *http.Client
}

// ClientOpt configures a [Client].
type ClientOpt func(*clientConfig)

// BasicAuth sends HTTP basic authentication with every request.
func BasicAuth(user, pass string) ClientOpt {
	return func(c *clientConfig) { c.srOpts = append(c.srOpts, sr.BasicAuth(user, pass)) }
}

// BearerToken sends a bearer token with every request.
func BearerToken(token string) ClientOpt {
	return func(c *clientConfig) { c.srOpts = append(c.srOpts, sr.BearerToken(token)) }
}

// TLS sets the TLS configuration for https:// registry URLs (root CAs,
// client certificates for mutual TLS, server name).
func TLS(cfg *tls.Config) ClientOpt { return func(c *clientConfig) { c.tls = cfg } }

// HTTPClient replaces the HTTP client (its Timeout bounds each attempt).
func HTTPClient(cl *http.Client) ClientOpt { return func(c *clientConfig) { c.httpcl = cl } }

// Retries sets how many times a failed request is retried (default 3).
func Retries(n int) ClientOpt { return func(c *clientConfig) { c.retries = n } }

// RetryBackoff sets the first retry's delay; each later one doubles it
// (default 100ms).
func RetryBackoff(d time.Duration) ClientOpt { return func(c *clientConfig) { c.backoff = d } }

// Timeout bounds each HTTP attempt (default 10s).
func Timeout(d time.Duration) ClientOpt { return func(c *clientConfig) { c.timeout = d } }

// SROpts passes options straight to the underlying franz-go client.
func SROpts(opts ...sr.ClientOpt) ClientOpt {
	return func(c *clientConfig) { c.srOpts = append(c.srOpts, opts...) }
}

// NewClient returns a client for the registries at urls (tried in order on
// network errors), e.g. "http://127.0.0.1:8081".
func NewClient(urls []string, opts ...ClientOpt) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("registry: no URLs")
	}
	cfg := clientConfig{retries: 3, backoff: 100 * time.Millisecond, timeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	httpcl := cfg.httpcl
	if httpcl == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.tls != nil {
			tr.TLSClientConfig = cfg.tls
		}
		httpcl = &http.Client{Timeout: cfg.timeout, Transport: tr}
	} else if cfg.tls != nil {
		cfg.srOpts = append(cfg.srOpts, sr.DialTLSConfig(cfg.tls))
	}
	all := append([]sr.ClientOpt{sr.URLs(urls...), sr.HTTPClient(httpcl), sr.UserAgent("kafki")}, cfg.srOpts...)
	cl, err := sr.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &Client{
		sr:      cl,
		retries: cfg.retries,
		backoff: cfg.backoff,
		byID:    make(map[int]sr.Schema),
		byVer:   make(map[subjectVersion]sr.SubjectSchema),
		ids:     make(map[subjectSchema]sr.SubjectSchema),
		pending: make(map[any]*call),
	}, nil
}

// SR returns the underlying franz-go client for the calls this type does
// not wrap.
func (c *Client) SR() *sr.Client { return c.sr }

// Register registers schema under subject (or finds it already registered)
// and returns its id. Results are cached.
func (c *Client) Register(ctx context.Context, subject string, schema sr.Schema) (int, error) {
	k := subjectSchema{subject: subject, schema: schema.Schema, typ: schema.Type, refs: refsKey(schema.References), register: true}
	ss, err := cachedFetch(ctx, c, c.ids, k, func(ctx context.Context) (sr.SubjectSchema, error) {
		id, err := c.sr.RegisterSchema(ctx, subject, schema, -1, -1)
		return sr.SubjectSchema{Subject: subject, ID: id, Schema: schema}, err
	}, c.rememberByID)
	return ss.ID, err
}

// Lookup finds schema among the versions of subject without registering
// it, and returns its id and version. Successful results are cached.
func (c *Client) Lookup(ctx context.Context, subject string, schema sr.Schema) (sr.SubjectSchema, error) {
	k := subjectSchema{subject: subject, schema: schema.Schema, typ: schema.Type, refs: refsKey(schema.References)}
	return cachedFetch(ctx, c, c.ids, k, func(ctx context.Context) (sr.SubjectSchema, error) {
		return c.sr.LookupSchema(ctx, subject, schema)
	}, c.rememberByID)
}

// SchemaByID returns the schema with the given id. Results are cached.
func (c *Client) SchemaByID(ctx context.Context, id int) (sr.Schema, error) {
	return cachedFetch(ctx, c, c.byID, id, func(ctx context.Context) (sr.Schema, error) {
		return c.sr.SchemaByID(ctx, id)
	}, nil)
}

// SchemaByVersion returns version (1 or more) of subject, as schema
// references name them. Results are cached: a subject version keeps its
// schema until it is permanently deleted.
func (c *Client) SchemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
	if version < 1 {
		return sr.SubjectSchema{}, fmt.Errorf("registry: subject %q version %d: versions start at 1", subject, version)
	}
	return cachedFetch(ctx, c, c.byVer, subjectVersion{subject, version}, func(ctx context.Context) (sr.SubjectSchema, error) {
		return c.sr.SchemaByVersion(ctx, subject, version)
	}, nil)
}

// rememberByID caches a registered or looked-up schema under its id too,
// so that deserializers of what this client wrote need no call. c.mu is
// held.
func (c *Client) rememberByID(ss sr.SubjectSchema) {
	if _, ok := c.byID[ss.ID]; !ok {
		c.byID[ss.ID] = ss.Schema
	}
}

// cachedFetch answers key from cache, or fetches it once for all
// concurrent callers, with retries, and caches the result. remember, when
// set, is called with c.mu held to cache the result elsewhere too.
func cachedFetch[K comparable, V any](ctx context.Context, c *Client, cache map[K]V, key K, fetch func(context.Context) (V, error), remember func(V)) (V, error) {
	c.mu.RLock()
	v, ok := cache[key]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	got, err := c.once(ctx, key, func(ctx context.Context) (any, error) {
		var v V
		err := c.retry(ctx, func(ctx context.Context) error {
			var err error
			v, err = fetch(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		cache[key] = v
		if remember != nil {
			remember(v)
		}
		c.mu.Unlock()
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return got.(V), nil
}

// Latest returns the latest version of subject (not cached: it changes).
func (c *Client) Latest(ctx context.Context, subject string) (sr.SubjectSchema, error) {
	var ss sr.SubjectSchema
	err := c.retry(ctx, func(ctx context.Context) error {
		var err error
		ss, err = c.sr.SchemaByVersion(ctx, subject, -1)
		return err
	})
	return ss, err
}

// once runs fn for key unless a call for key is already in flight, in which
// case it waits for that call's result.
func (c *Client) once(ctx context.Context, key any, fn func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	if p, ok := c.pending[key]; ok {
		c.mu.Unlock()
		select {
		case <-p.done:
			return p.val, p.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p := &call{done: make(chan struct{})}
	c.pending[key] = p
	c.mu.Unlock()

	p.val, p.err = fn(ctx)

	c.mu.Lock()
	delete(c.pending, key)
	c.mu.Unlock()
	close(p.done)
	return p.val, p.err
}

// retry runs fn until it succeeds, fails with an error that retrying does
// not help, or the retries run out.
func (c *Client) retry(ctx context.Context, fn func(context.Context) error) error {
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil || attempt >= c.retries || !Retriable(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		delay *= 2
	}
}

// Retriable reports whether a registry call that failed with err may
// succeed when tried again: network errors, 5xx responses and 429.
func Retriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// pkg/sr wraps transport errors with fmt.Errorf("unable to ..."): treat
	// anything that is not a registry response as a transport problem.
	return true
}

// ErrorCode returns the registry's error_code of err (e.g. 40403 for an
// unknown schema id), or 0 if err is not a registry response.
func ErrorCode(err error) int {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return 0
}
