package main

import (
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
)

// Clicks less than inactivityGap apart are one session; a click up to
// grace late (in event time) still counts.
const (
	inactivityGap = 5 * time.Minute
	grace         = time.Minute
)

// User is a row of the users table, keyed by user id.
type User struct {
	Name string
	Plan string
}

// Session is one finished session of a user.
type Session struct {
	Start, End time.Time
	Clicks     int64
}

// Report is a session with the user's row: the output, keyed by user id.
type Report struct {
	Session
	User
}

// buildTopology counts clicks (key user id, value the page) per session,
// keeps each count back until its session closes, re-keys the final
// counts by user and joins them with the users table.
func buildTopology(cfg config) (*topology.Topology, error) {
	b := stream.NewBuilder(stream.DefaultSerde(serde.JSON[User]()), stream.DefaultSerde(serde.JSON[Session]()), stream.DefaultSerde(serde.JSON[Report]()))
	users := stream.Table[string, User](b, cfg.users)
	clicks := stream.Stream[string, string](b, cfg.clicks)

	sessions := stream.SessionWindowedBy(stream.GroupByKey(clicks), stream.SessionWindowsWithGap(inactivityGap, grace))
	counts := stream.CountSessions(sessions).Suppress(stream.UntilWindowCloses(stream.BufferConfig{}))
	byUser := stream.Map(counts.ToStream(), func(w stream.Windowed[string], n int64) (string, Session) {
		return w.Key, Session{Start: w.Window.Start().UTC(), End: w.Window.End().UTC(), Clicks: n}
	})
	stream.JoinTable(byUser, users, func(s Session, u User) Report { return Report{s, u} }).To(cfg.output)
	return b.Build()
}
