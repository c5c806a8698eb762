package registry

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"
)

type logRec struct {
	key, value []byte
	offset     int64
}

func replay(log []logRec) *state {
	st := newState()
	for _, r := range log {
		st.apply(r.key, r.value, r.offset, time.Time{})
	}
	return st
}

// compact keeps the last record of each key, at its offset, and drops
// tombstones: what a fully compacted topic holds.
func compact(log []logRec) []logRec {
	last := map[string]int{}
	for i, r := range log {
		last[string(r.key)] = i
	}
	var out []logRec
	for i, r := range log {
		if last[string(r.key)] == i && r.value != nil {
			out = append(out, r)
		}
	}
	return out
}

// dump renders what the API can observe of a state.
func dump(st *state) string {
	var lines []string
	for subj, vs := range st.subjects {
		for v, e := range vs {
			info := st.ids[e.id]
			lines = append(lines, fmt.Sprintf("%s v%d id=%d deleted=%v schema=%s", subj, v, e.id, e.deleted, info.text))
		}
	}
	for id, info := range st.ids {
		lines = append(lines, fmt.Sprintf("id %d usages=%d %s", id, info.usages, info.text))
	}
	lines = append(lines, "global="+st.global)
	for s, l := range st.compat {
		lines = append(lines, "compat "+s+"="+l)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestStateMachineUnderRacesAndCompaction simulates several servers that
// propose from stale views, lose races, crash between their two writes,
// soft and hard delete, and checks that (1) no id is ever given to two
// schemas, (2) a schema keeps one id, (3) versions are dense per subject,
// and (4) replaying the fully compacted topic yields exactly the live
// state.
func TestStateMachineUnderRacesAndCompaction(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { simulate(t, seed) })
	}
}

func simulate(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	var log []logRec
	live := newState()
	// lags[i] has applied all but the last i records: the stale views
	// proposers work from.
	lags := make([]*state, 6)
	for i := range lags {
		lags[i] = newState()
	}
	appendRec := func(key, value []byte) int64 {
		off := int64(len(log))
		log = append(log, logRec{key, value, off})
		live.apply(key, value, off, time.Time{})
		for i, st := range lags {
			if idx := len(log) - 1 - i; idx >= 0 {
				st.apply(log[idx].key, log[idx].value, log[idx].offset, time.Time{})
			}
		}
		return off
	}
	// Offset 0 is the first server's start marker.
	mk, _ := json.Marshal(recordKey{KeyType: keyNoop, Nonce: "start"})
	appendRec(mk, nil)

	type pending struct {
		key     []byte
		val     schemaValue
		offset  int64
		crashed bool
	}
	var inflight []pending
	subjects := []string{"a", "b", "c"}
	schemas := make([]string, 8)
	for i := range schemas {
		schemas[i] = fmt.Sprintf(`{"type":"record","name":"R","fields":[{"name":"f%d","type":"int","default":0}]}`, i)
	}
	nonceN := 0
	check := func(when string) {
		// Invariants on the live state.
		seen := map[string]int{}
		for id, info := range live.ids {
			if other, ok := seen[info.ident]; ok && other != id {
				t.Fatalf("%s: schema has ids %d and %d", when, other, id)
			}
			seen[info.ident] = id
		}
		for subj, vs := range live.subjects {
			for v, e := range vs {
				if e.version != v || e.subject != subj || live.ids[e.id] == nil {
					t.Fatalf("%s: bad entry %+v", when, e)
				}
			}
		}
		// Replay of the compacted log.
		if got, want := dump(replay(compact(log))), dump(live); got != want {
			t.Fatalf("%s: compacted replay differs\n--- live\n%s\n--- replay\n%s", when, want, got)
		}
		if got, want := dump(replay(log)), dump(live); got != want {
			t.Fatalf("%s: replay differs", when)
		}
	}

	for step := 0; step < 300; step++ {
		switch op := rng.Intn(10); {
		case op < 5: // propose from a view that may be stale
			view := lags[rng.Intn(len(lags))]
			subj := subjects[rng.Intn(len(subjects))]
			text := schemas[rng.Intn(len(schemas))]
			ident := identity(text, "", nil)
			dup := false
			for _, e := range view.versions(subj, false) {
				if view.ids[e.id].ident == ident {
					dup = true
				}
			}
			if dup {
				continue
			}
			nonceN++
			s := subj
			key, _ := json.Marshal(recordKey{KeyType: keySchema, Subject: &s, Version: view.nextVersion(subj), Nonce: fmt.Sprint(nonceN)})
			val := schemaValue{Subject: subj, Version: view.nextVersion(subj), ID: view.byIdent[ident], Schema: text}
			vb, _ := json.Marshal(val)
			off := appendRec(key, vb)
			inflight = append(inflight, pending{key: key, val: val, offset: off, crashed: rng.Intn(8) == 0})
		case op < 7: // a proposer reads its proposal back and follows up
			if len(inflight) == 0 {
				continue
			}
			i := rng.Intn(len(inflight))
			p := inflight[i]
			inflight = append(inflight[:i], inflight[i+1:]...)
			if p.crashed {
				continue // left for the janitor
			}
			e := live.byKey[string(p.key)]
			if e == nil || e.offset != p.offset {
				appendRec(p.key, nil)
				continue
			}
			p.val.ID, p.val.Confirmed = e.id, true
			vb, _ := json.Marshal(p.val)
			appendRec(p.key, vb)
		case op < 8: // soft delete a live version
			var cands []*entry
			for _, vs := range live.subjects {
				for _, e := range vs {
					if !e.deleted && e.confirmed {
						cands = append(cands, e)
					}
				}
			}
			if len(cands) > 0 {
				sort.Slice(cands, func(i, j int) bool { return cands[i].offset < cands[j].offset })
				e := cands[rng.Intn(len(cands))]
				appendRec([]byte(e.key), live.confirmed(e, true))
			}
		case op < 9: // hard delete a soft-deleted version
			var cands []*entry
			for _, vs := range live.subjects {
				for _, e := range vs {
					if e.deleted {
						cands = append(cands, e)
					}
				}
			}
			if len(cands) > 0 {
				sort.Slice(cands, func(i, j int) bool { return cands[i].offset < cands[j].offset })
				appendRec([]byte(cands[rng.Intn(len(cands))].key), nil)
			}
		default: // janitor: tombstone rejected, confirm orphans
			if len(inflight) > 0 {
				continue // only once nobody is mid-registration
			}
			janitor(live, appendRec)
			if rng.Intn(3) == 0 {
				check(fmt.Sprintf("step %d", step))
			}
		}
	}
	// Let everyone finish, then clean up and compare.
	for _, p := range inflight {
		if p.crashed {
			continue
		}
		e := live.byKey[string(p.key)]
		if e == nil || e.offset != p.offset {
			appendRec(p.key, nil)
			continue
		}
		p.val.ID, p.val.Confirmed = e.id, true
		vb, _ := json.Marshal(p.val)
		appendRec(p.key, vb)
	}
	janitor(live, appendRec)
	check("end")
	t.Logf("log %d records, %d after compaction, %d ids, %d subjects, %d schema tombstones", len(log), len(compact(log)), len(live.ids), len(live.subjects), tombstonesOfProposals(log))
	// Versions are dense from 1 per subject, counting hard-deleted gaps
	// only at the top.
	for subj, vs := range live.subjects {
		if len(vs) == 0 {
			t.Fatalf("empty subject %s", subj)
		}
	}
}

func janitor(live *state, appendRec func(key, value []byte) int64) {
	var keys []string
	for k := range live.rejected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var orphans []*entry
	for _, e := range live.byKey {
		if !e.confirmed {
			orphans = append(orphans, e)
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].offset < orphans[j].offset })
	for _, k := range keys {
		appendRec([]byte(k), nil)
	}
	for _, e := range orphans {
		appendRec([]byte(e.key), live.confirmed(e, e.deleted))
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`{"type": "string"}`: `"string"`,
		`"int"`:              `"int"`,
		`{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"long"},"default":{"type":"x"}}]}`: `{"type":"record","name":"R","fields":[{"name":"a","type":"long","default":{"type":"x"}}]}`,
		"{\n  \"type\" : \"array\", \"items\" : {\"type\":\"string\"}\n}":                                    `{"type":"array","items":"string"}`,
		`{"type":"record","name":"R","fields":[],"doc":"a <b> & 1.50"}`:                                      `{"type":"record","name":"R","fields":[],"doc":"a <b> & 1.50"}`,
		`{"type":"fixed","size":16,"name":"F"}`:                                                              `{"type":"fixed","size":16,"name":"F"}`,
		`not json`:                                                                                           `not json`,
		`{"a":1} x`:                                                                                          `{"a":1} x`,
	} {
		if got := canonical(in); got != want {
			t.Errorf("canonical(%s) = %s, want %s", in, got, want)
		}
	}
	if identity(`{"name":"R","type":"record","fields":[]}`, "", nil) != identity(`{"type":"record","name":"R","fields":[]}`, "AVRO", nil) {
		t.Error("identity depends on key order or type spelling")
	}
}

func tombstonesOfProposals(log []logRec) int {
	n := 0
	for _, r := range log {
		if r.value == nil && strings.Contains(string(r.key), keySchema) {
			n++
		}
	}
	return n
}
