package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// APIError is an error response in the reference registry's shape:
// {"error_code": 40401, "message": "Subject 'x' not found."}, with its
// HTTP status.
type APIError struct {
	Status  int
	Code    int
	Message string
}

func (e *APIError) Error() string { return e.Message }

func errSubjectNotFound(s string) *APIError {
	return &APIError{404, 40401, fmt.Sprintf("Subject '%s' not found.", s)}
}

func errVersionNotFound(v int) *APIError {
	return &APIError{404, 40402, fmt.Sprintf("Version %d not found.", v)}
}

func errSchemaNotFound(id int) *APIError {
	if id == 0 {
		return &APIError{404, 40403, "Schema not found"}
	}
	return &APIError{404, 40403, fmt.Sprintf("Schema %d not found", id)}
}

func errInvalidSchema(msg string) *APIError {
	return &APIError{422, 42201, "Invalid schema " + msg}
}

func errInvalidVersion(v string) *APIError {
	return &APIError{422, 42202, fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)}
}

// errReferenceExists refuses to delete a version that a live schema
// references: records written with the referring schema could no longer be
// read. Confluent answers the same (422, 42206).
func errReferenceExists(subject string, version int) *APIError {
	return &APIError{422, 42206, fmt.Sprintf("One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%d}.", subject, version)}
}

var errInvalidLevel = &APIError{422, 42203, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}

func errStore(err error) *APIError {
	if errors.Is(err, context.DeadlineExceeded) {
		return &APIError{500, 50002, "Operation timed out: " + err.Error()}
	}
	return &APIError{500, 50001, "Error in the backend data store: " + err.Error()}
}

func isNotFound(e *APIError) bool { return e != nil && e.Status == 404 }

const contentType = "application/vnd.schemaregistry.v1+json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, e *APIError) {
	writeJSON(w, e.Status, map[string]any{"error_code": e.Code, "message": e.Message})
}

type handler func(r *http.Request) (any, *APIError)

func (s *Server) handle(pattern string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, e := h(r)
		if e != nil {
			writeErr(w, e)
			return
		}
		if raw, ok := v.(rawBody); ok {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write(raw)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// rawBody is written as is (the /schema endpoints return the schema text).
type rawBody []byte

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handle("GET /{$}", func(*http.Request) (any, *APIError) { return map[string]any{}, nil })
	s.handle("GET /schemas/types", func(*http.Request) (any, *APIError) { return []string{"AVRO"}, nil })

	s.handle("GET /subjects", s.getSubjects)
	s.handle("GET /subjects/{subject}/versions", s.getVersions)
	s.handle("GET /subjects/{subject}/versions/{version}", s.getVersion)
	s.handle("GET /subjects/{subject}/versions/{version}/schema", s.getVersionSchema)
	s.handle("GET /subjects/{subject}/versions/{version}/referencedby", s.getReferencedBy)
	s.handle("POST /subjects/{subject}/versions", s.postRegister)
	s.handle("POST /subjects/{subject}", s.postLookup)
	s.handle("DELETE /subjects/{subject}", s.deleteSubject)
	s.handle("DELETE /subjects/{subject}/versions/{version}", s.deleteVersion)

	s.handle("GET /schemas", s.getSchemas)
	s.handle("GET /schemas/ids/{id}", s.getSchemaByID)
	s.handle("GET /schemas/ids/{id}/schema", s.getSchemaTextByID)
	s.handle("GET /schemas/ids/{id}/versions", s.getIDVersions)
	s.handle("GET /schemas/ids/{id}/subjects", s.getIDSubjects)

	s.handle("GET /config", s.getGlobalConfig)
	s.handle("PUT /config", s.putConfig)
	s.handle("DELETE /config", s.deleteConfig)
	s.handle("GET /config/{subject}", s.getSubjectConfig)
	s.handle("PUT /config/{subject}", s.putConfig)
	s.handle("DELETE /config/{subject}", s.deleteConfig)

	s.handle("POST /compatibility/subjects/{subject}/versions/{version}", s.postCompatibility)
	s.handle("POST /compatibility/subjects/{subject}/versions", s.postCompatibility)

	s.handle("GET /mode", func(*http.Request) (any, *APIError) { return map[string]string{"mode": "READWRITE"}, nil })
	s.handle("GET /mode/{subject}", func(*http.Request) (any, *APIError) { return map[string]string{"mode": "READWRITE"}, nil })
	s.handle("PUT /mode", s.putMode)
	s.handle("PUT /mode/{subject}", s.putMode)
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

// read runs fn on the state. Lists and anything that may change are read
// fresh: the server first catches up with the topic's end, so that what
// another server has acknowledged is seen. Immutable lookups (a schema by
// id, a lookup that finds its schema) are answered from memory, and only
// when they find nothing does the server catch up and run fn once more.
func (s *Server) read(r *http.Request, fresh bool, fn func(st *state) (any, *APIError)) (any, *APIError) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	if !fresh {
		s.mu.RLock()
		v, e := fn(s.st)
		s.mu.RUnlock()
		if !isNotFound(e) {
			return v, e
		}
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, errStore(err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(s.st)
}

// parseVersion parses a version path segment: a positive int, "latest" or
// -1 (latest).
func parseVersion(v string) (int, *APIError) {
	if v == "latest" || v == "-1" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return 0, errInvalidVersion(v)
	}
	return n, nil
}

// findVersion returns the entry of subject at version (-1: latest
// non-deleted).
func (st *state) findVersion(subject string, version int, deleted bool) (*entry, *APIError) {
	all := st.versions(subject, true)
	if len(all) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	live := st.versions(subject, deleted)
	if version == -1 {
		if len(live) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		return live[len(live)-1], nil
	}
	for _, e := range live {
		if e.version == version {
			return e, nil
		}
	}
	return nil, errVersionNotFound(version)
}

type subjectVersionJSON struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
	Deleted    bool        `json:"deleted,omitempty"`
}

func (st *state) describe(e *entry) subjectVersionJSON {
	out := subjectVersionJSON{Subject: e.subject, Version: e.version, ID: e.id, Deleted: e.deleted}
	if info := st.ids[e.id]; info != nil {
		out.Schema, out.SchemaType, out.References = info.text, info.typ, info.refs
	}
	return out
}

func (s *Server) getSubjects(r *http.Request) (any, *APIError) {
	deleted := boolParam(r, "deleted")
	prefix := r.URL.Query().Get("subjectPrefix")
	return s.read(r, true, func(st *state) (any, *APIError) {
		out := []string{}
		for subj := range st.subjects {
			if strings.HasPrefix(subj, prefix) && len(st.versions(subj, deleted)) > 0 {
				out = append(out, subj)
			}
		}
		sort.Strings(out)
		return out, nil
	})
}

func (s *Server) getVersions(r *http.Request) (any, *APIError) {
	subject, deleted := r.PathValue("subject"), boolParam(r, "deleted")
	return s.read(r, true, func(st *state) (any, *APIError) {
		vs := st.versions(subject, deleted)
		if len(vs) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		out := make([]int, len(vs))
		for i, e := range vs {
			out[i] = e.version
		}
		return out, nil
	})
}

func (s *Server) getVersion(r *http.Request) (any, *APIError) {
	subject, deleted := r.PathValue("subject"), boolParam(r, "deleted")
	version, e := parseVersion(r.PathValue("version"))
	if e != nil {
		return nil, e
	}
	return s.read(r, version == -1, func(st *state) (any, *APIError) {
		en, e := st.findVersion(subject, version, deleted)
		if e != nil {
			return nil, e
		}
		d := st.describe(en)
		d.Deleted = false
		return d, nil
	})
}

func (s *Server) getVersionSchema(r *http.Request) (any, *APIError) {
	v, e := s.getVersion(r)
	if e != nil {
		return nil, e
	}
	return rawBody(v.(subjectVersionJSON).Schema), nil
}

func (s *Server) getReferencedBy(r *http.Request) (any, *APIError) {
	subject := r.PathValue("subject")
	version, e := parseVersion(r.PathValue("version"))
	if e != nil {
		return nil, e
	}
	return s.read(r, true, func(st *state) (any, *APIError) {
		en, e := st.findVersion(subject, version, false)
		if e != nil {
			return nil, e
		}
		return st.referrers(subject, en.version), nil
	})
}

func (s *Server) getSchemas(r *http.Request) (any, *APIError) {
	deleted, latest := boolParam(r, "deleted"), boolParam(r, "latestOnly")
	prefix := r.URL.Query().Get("subjectPrefix")
	return s.read(r, true, func(st *state) (any, *APIError) {
		out := []subjectVersionJSON{}
		var subjects []string
		for subj := range st.subjects {
			if strings.HasPrefix(subj, prefix) {
				subjects = append(subjects, subj)
			}
		}
		sort.Strings(subjects)
		for _, subj := range subjects {
			vs := st.versions(subj, deleted)
			if latest && len(vs) > 0 {
				vs = vs[len(vs)-1:]
			}
			for _, e := range vs {
				d := st.describe(e)
				d.Deleted = false
				out = append(out, d)
			}
		}
		return out, nil
	})
}

func parseID(r *http.Request) (int, *APIError) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		return 0, errSchemaNotFound(0)
	}
	return id, nil
}

type schemaJSON struct {
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
}

func (s *Server) getSchemaByID(r *http.Request) (any, *APIError) {
	id, e := parseID(r)
	if e != nil {
		return nil, e
	}
	return s.read(r, false, func(st *state) (any, *APIError) {
		info := st.ids[id]
		if info == nil {
			return nil, errSchemaNotFound(id)
		}
		return schemaJSON{SchemaType: info.typ, References: info.refs, Schema: info.text}, nil
	})
}

func (s *Server) getSchemaTextByID(r *http.Request) (any, *APIError) {
	v, e := s.getSchemaByID(r)
	if e != nil {
		return nil, e
	}
	return rawBody(v.(schemaJSON).Schema), nil
}

func (s *Server) getIDVersions(r *http.Request) (any, *APIError) {
	id, e := parseID(r)
	if e != nil {
		return nil, e
	}
	deleted := boolParam(r, "deleted")
	return s.read(r, true, func(st *state) (any, *APIError) {
		if st.ids[id] == nil {
			return nil, errSchemaNotFound(id)
		}
		type sv struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
		}
		out := []sv{}
		for _, en := range st.entriesOf(id) {
			if deleted || !en.deleted {
				out = append(out, sv{en.subject, en.version})
			}
		}
		return out, nil
	})
}

func (s *Server) getIDSubjects(r *http.Request) (any, *APIError) {
	id, e := parseID(r)
	if e != nil {
		return nil, e
	}
	deleted := boolParam(r, "deleted")
	return s.read(r, true, func(st *state) (any, *APIError) {
		if st.ids[id] == nil {
			return nil, errSchemaNotFound(id)
		}
		out := []string{}
		for _, en := range st.entriesOf(id) {
			if (deleted || !en.deleted) && (len(out) == 0 || out[len(out)-1] != en.subject) {
				out = append(out, en.subject)
			}
		}
		return out, nil
	})
}

// ---------------------------------------------------------------- register

type registerRequest struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType"`
	References []Reference `json:"references"`
}

func readRegister(r *http.Request) (*registerRequest, *APIError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return nil, &APIError{400, 400, "Cannot read the request body: " + err.Error()}
	}
	var req registerRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &APIError{422, 50005, "Unrecognized request body: " + err.Error()}
	}
	if req.Schema == "" {
		return nil, errInvalidSchema("{}: empty schema")
	}
	req.Schema = canonical(req.Schema)
	switch t := strings.ToUpper(req.SchemaType); t {
	case "", "AVRO":
		req.SchemaType = ""
	default:
		return nil, errInvalidSchema(fmt.Sprintf("of type %s: only AVRO schemas are supported", t))
	}
	return &req, nil
}

// level is the compatibility level that applies to subject.
func (s *Server) level(st *state, subject string) string {
	if l := st.compat[subject]; l != "" {
		return l
	}
	return s.globalLevel(st)
}

func (s *Server) globalLevel(st *state) string {
	if st.global != "" {
		return st.global
	}
	return s.cfg.defLevel
}

// prepare parses a schema and checks it against subject's live versions:
// it returns the incompatibilities found under level (all live versions
// when check is -2, one version otherwise). Call with s.mu read-locked.
func (s *Server) prepare(subject string, req *registerRequest, level string, against []*entry) ([]incompatibility, *APIError) {
	schema, _, err := parseAvro(req.Schema, req.References, s.st.refLookup, 0)
	if err != nil {
		return nil, errInvalidSchema(fmt.Sprintf("%s, details: %v", req.Schema, err))
	}
	var earlier []prior
	for _, e := range against {
		p, err := s.parsedSchema(e.id)
		if err != nil {
			continue // an unparsable stored schema cannot be checked against
		}
		earlier = append(earlier, prior{version: e.version, text: s.st.ids[e.id].text, schema: p})
	}
	return checkCompat(level, schema, earlier), nil
}

func incompatibleMessage(subject string, found []incompatibility) string {
	parts := make([]string, len(found))
	for i, f := range found {
		parts[i] = f.String()
	}
	return fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [%s]", subject, strings.Join(parts, ", "))
}

func (s *Server) postRegister(r *http.Request) (any, *APIError) {
	subject := r.PathValue("subject")
	req, e := readRegister(r)
	if e != nil {
		return nil, e
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	id, e := s.register(ctx, subject, req)
	if e != nil {
		return nil, e
	}
	return map[string]int{"id": id}, nil
}

// Register registers an Avro schema under subject, as POST
// /subjects/{subject}/versions does, and returns its id. A failure is an
// *APIError with the REST API's error code.
func (s *Server) Register(ctx context.Context, subject, schema string, refs []Reference) (int, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return 0, errStore(ctx.Err())
	}
	id, e := s.register(ctx, subject, &registerRequest{Schema: canonical(schema), References: refs})
	if e != nil {
		return 0, e
	}
	return id, nil
}

func (s *Server) register(ctx context.Context, subject string, req *registerRequest) (int, *APIError) {
	ident := identity(req.Schema, req.SchemaType, req.References)
	const attempts = 20
	for attempt := 0; attempt < attempts; attempt++ {
		if err := s.sync(ctx); err != nil {
			return 0, errStore(err)
		}
		s.mu.RLock()
		live := s.st.versions(subject, false)
		for _, en := range live {
			if info := s.st.ids[en.id]; info != nil && info.ident == ident {
				s.mu.RUnlock()
				return en.id, nil // already registered
			}
		}
		level := s.level(s.st, subject)
		found, e := s.prepare(subject, req, level, live)
		if e != nil {
			s.mu.RUnlock()
			return 0, e
		}
		if len(found) > 0 {
			s.mu.RUnlock()
			return 0, &APIError{409, 409, incompatibleMessage(subject, found)}
		}
		id := s.st.byIdent[ident]
		version := s.st.nextVersion(subject)
		s.mu.RUnlock()

		subj := subject
		key, _ := json.Marshal(recordKey{KeyType: keySchema, Subject: &subj, Version: version, Nonce: nonce()})
		val := schemaValue{Subject: subject, Version: version, ID: id, Schema: req.Schema, SchemaType: req.SchemaType, References: req.References}
		vb, _ := json.Marshal(val)
		off, err := s.write(ctx, key, vb)
		if err != nil {
			return 0, errStore(err)
		}
		s.mu.RLock()
		en := s.st.byKey[string(key)]
		won := en != nil && en.offset == off
		if won {
			id = en.id
		}
		s.mu.RUnlock()
		if !won {
			// Lost to a concurrent registration: remove the proposal, retry.
			if _, err := s.produce(ctx, key, nil); err != nil {
				s.log.Warn("tombstone of a rejected proposal failed", "err", err)
			}
			continue
		}
		val.ID, val.Confirmed = id, true
		vb, _ = json.Marshal(val)
		if _, err := s.write(ctx, key, vb); err != nil {
			return 0, errStore(err)
		}
		s.log.Info("schema registered", "subject", subject, "version", version, "id", id)
		return id, nil
	}
	return 0, errStore(fmt.Errorf("registration of subject %q kept conflicting with concurrent registrations", subject))
}

func (s *Server) postLookup(r *http.Request) (any, *APIError) {
	subject, deleted := r.PathValue("subject"), boolParam(r, "deleted")
	req, e := readRegister(r)
	if e != nil {
		return nil, e
	}
	ident := identity(req.Schema, req.SchemaType, req.References)
	return s.read(r, false, func(st *state) (any, *APIError) {
		vs := st.versions(subject, deleted)
		if len(vs) == 0 {
			return nil, errSubjectNotFound(subject)
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if info := st.ids[vs[i].id]; info != nil && info.ident == ident {
				d := st.describe(vs[i])
				d.Deleted = false
				return d, nil
			}
		}
		if _, _, err := parseAvro(req.Schema, req.References, st.refLookup, 0); err != nil {
			return nil, errInvalidSchema(fmt.Sprintf("%s, details: %v", req.Schema, err))
		}
		return nil, errSchemaNotFound(0)
	})
}

func (s *Server) postCompatibility(r *http.Request) (any, *APIError) {
	subject := r.PathValue("subject")
	req, e := readRegister(r)
	if e != nil {
		return nil, e
	}
	version := -2 // all versions per the level
	if v := r.PathValue("version"); v != "" {
		if version, e = parseVersion(v); e != nil {
			return nil, e
		}
	}
	res, e := s.read(r, true, func(st *state) (any, *APIError) {
		live := st.versions(subject, false)
		level := s.level(st, subject)
		if version != -2 {
			en, e := st.findVersion(subject, version, false)
			if e != nil {
				return nil, e
			}
			// Against one given version: the level's direction only.
			live = []*entry{en}
			level = strings.TrimSuffix(level, "_TRANSITIVE")
		}
		return s.prepare(subject, req, level, live)
	})
	if e != nil {
		return nil, e
	}
	found := res.([]incompatibility)
	out := map[string]any{"is_compatible": len(found) == 0}
	if boolParam(r, "verbose") {
		msgs := []string{}
		for _, f := range found {
			msgs = append(msgs, f.String())
		}
		out["messages"] = msgs
	}
	return out, nil
}

// ---------------------------------------------------------------- delete

func (s *Server) deleteSubject(r *http.Request) (any, *APIError) {
	subject, permanent := r.PathValue("subject"), boolParam(r, "permanent")
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	if err := s.sync(ctx); err != nil {
		return nil, errStore(err)
	}
	type w struct{ key, value []byte }
	var writes []w
	out := []int{}
	s.mu.RLock()
	all := s.st.versions(subject, true)
	if len(all) == 0 {
		s.mu.RUnlock()
		return nil, errSubjectNotFound(subject)
	}
	for _, e := range all {
		if len(s.st.referrers(subject, e.version)) > 0 {
			s.mu.RUnlock()
			return nil, errReferenceExists(subject, e.version)
		}
	}
	for _, e := range all {
		switch {
		case permanent && !e.deleted:
			s.mu.RUnlock()
			return nil, &APIError{404, 40405, fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", subject)}
		case permanent:
			writes = append(writes, w{[]byte(e.key), nil})
			out = append(out, e.version)
		case !e.deleted:
			writes = append(writes, w{[]byte(e.key), s.st.confirmed(e, true)})
			out = append(out, e.version)
		}
	}
	s.mu.RUnlock()
	if len(out) == 0 {
		return nil, &APIError{404, 40404, fmt.Sprintf("Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)}
	}
	if permanent {
		subj := subject
		key, _ := json.Marshal(recordKey{KeyType: keyConfig, Subject: &subj})
		writes = append(writes, w{key, nil})
	}
	for _, x := range writes {
		if _, err := s.write(ctx, x.key, x.value); err != nil {
			return nil, errStore(err)
		}
	}
	return out, nil
}

func (s *Server) deleteVersion(r *http.Request) (any, *APIError) {
	subject, permanent := r.PathValue("subject"), boolParam(r, "permanent")
	version, e := parseVersion(r.PathValue("version"))
	if e != nil {
		return nil, e
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	if err := s.sync(ctx); err != nil {
		return nil, errStore(err)
	}
	s.mu.RLock()
	en, e := s.st.findVersion(subject, version, true)
	if e == nil && version == -1 {
		// "latest" is the latest live version.
		en, e = s.st.findVersion(subject, -1, false)
	}
	var key, value []byte
	if e == nil {
		key = []byte(en.key)
		switch {
		case len(s.st.referrers(subject, en.version)) > 0:
			e = errReferenceExists(subject, en.version)
		case permanent && !en.deleted:
			e = &APIError{404, 40407, fmt.Sprintf("Subject '%s' Version %d was not deleted first before being permanently deleted", subject, en.version)}
		case !permanent && en.deleted:
			e = &APIError{404, 40406, fmt.Sprintf("Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, en.version)}
		case !permanent:
			value = s.st.confirmed(en, true)
		}
	}
	s.mu.RUnlock()
	if e != nil {
		return nil, e
	}
	if _, err := s.write(ctx, key, value); err != nil {
		return nil, errStore(err)
	}
	return en.version, nil
}

// ---------------------------------------------------------------- config

func (s *Server) getGlobalConfig(r *http.Request) (any, *APIError) {
	return s.read(r, true, func(st *state) (any, *APIError) {
		return map[string]string{"compatibilityLevel": s.globalLevel(st)}, nil
	})
}

func (s *Server) getSubjectConfig(r *http.Request) (any, *APIError) {
	subject := r.PathValue("subject")
	return s.read(r, true, func(st *state) (any, *APIError) {
		l := st.compat[subject]
		if l == "" {
			if !boolParam(r, "defaultToGlobal") {
				return nil, &APIError{404, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject)}
			}
			l = s.globalLevel(st)
		}
		return map[string]string{"compatibilityLevel": l}, nil
	})
}

func configKey(r *http.Request) []byte {
	k := recordKey{KeyType: keyConfig}
	if subject := r.PathValue("subject"); subject != "" {
		k.Subject = &subject
	}
	b, _ := json.Marshal(k)
	return b
}

func (s *Server) putConfig(r *http.Request) (any, *APIError) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, &APIError{422, 50005, "Unrecognized request body: " + err.Error()}
	}
	level := normLevel(body.Compatibility)
	if level == "" {
		return nil, errInvalidLevel
	}
	v, _ := json.Marshal(configValue{CompatibilityLevel: level})
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	if _, err := s.write(ctx, configKey(r), v); err != nil {
		return nil, errStore(err)
	}
	return map[string]string{"compatibility": level}, nil
}

func (s *Server) deleteConfig(r *http.Request) (any, *APIError) {
	subject := r.PathValue("subject")
	s.mu.RLock()
	prev := s.st.compat[subject]
	if subject == "" {
		prev = s.globalLevel(s.st)
	}
	s.mu.RUnlock()
	if prev == "" {
		return nil, &APIError{404, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject)}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.timeout)
	defer cancel()
	if _, err := s.write(ctx, configKey(r), nil); err != nil {
		return nil, errStore(err)
	}
	return map[string]string{"compatibilityLevel": prev, "compatibility": prev}, nil
}

func (s *Server) putMode(r *http.Request) (any, *APIError) {
	var body struct {
		Mode string `json:"mode"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = json.Unmarshal(b, &body)
	if strings.ToUpper(body.Mode) != "READWRITE" {
		return nil, &APIError{422, 42204, "Invalid mode. Only READWRITE is supported"}
	}
	return map[string]string{"mode": "READWRITE"}, nil
}
