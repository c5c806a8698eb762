package topology

import (
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// KeyValueStore returns the key-value store name, connected to the
// processor of ctx, typed through the given serdes: one call instead of
// StateStore, a type assertion and state.NewTypedKeyValueStore.
//
//	counts, err := topology.KeyValueStore(ctx, "counts", serde.String(), serde.Int64())
func KeyValueStore[K, V, KO, VO any](ctx ProcessorContext[KO, VO], name string, keys serde.Serde[K], values serde.Serde[V]) (*state.TypedKeyValueStore[K, V], error) {
	s, err := storeOf[state.KeyValueStore](ctx, name, "key-value")
	if err != nil {
		return nil, err
	}
	return state.NewTypedKeyValueStore(s, keys, values), nil
}

// WindowStore is KeyValueStore for a window store.
func WindowStore[K, V, KO, VO any](ctx ProcessorContext[KO, VO], name string, keys serde.Serde[K], values serde.Serde[V]) (*state.TypedWindowStore[K, V], error) {
	s, err := storeOf[state.WindowStore](ctx, name, "window")
	if err != nil {
		return nil, err
	}
	return state.NewTypedWindowStore(s, keys, values), nil
}

// SessionStore is KeyValueStore for a session store.
func SessionStore[K, V, KO, VO any](ctx ProcessorContext[KO, VO], name string, keys serde.Serde[K], values serde.Serde[V]) (*state.TypedSessionStore[K, V], error) {
	s, err := storeOf[state.SessionStore](ctx, name, "session")
	if err != nil {
		return nil, err
	}
	return state.NewTypedSessionStore(s, keys, values), nil
}

func storeOf[S any, KO, VO any](ctx ProcessorContext[KO, VO], name, kind string) (S, error) {
	var zero S
	if ctx == nil {
		return zero, fmt.Errorf("%w: store %q: nil processor context", ErrInvalid, name)
	}
	st, err := ctx.StateStore(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		return zero, fmt.Errorf("%w: store %q is a %T, not a %s store", ErrTypeMismatch, name, st, kind)
	}
	return s, nil
}
