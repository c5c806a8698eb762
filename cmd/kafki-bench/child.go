package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/kafki/kafki/state/rocksdb"
)

// resultPrefix starts the line a child prints its result on, so that
// anything else a library prints on standard output cannot be mistaken
// for it.
const resultPrefix = "KAFKI-BENCH-RESULT "

// env is what a scenario needs to know: where the broker is and what the
// parent prepared. The parent passes it to the child as flags.
type env struct {
	Brokers    []string
	RunID      string
	Records    int64  // records in LinesTopic
	Words      int64  // words in those records
	LinesTopic string // lines of text, null keys
	// WindowRecords lines (WindowWords words) in WindowLinesTopic: the
	// smaller input of the windowed scenarios.
	WindowRecords    int64
	WindowWords      int64
	WindowLinesTopic string
	// WindowLines1PTopic holds the same lines in one partition: its
	// windowed count drops no record as late (see hoppingWindowOn).
	WindowLines1PTopic string
	// Lines1PTopic holds the lines of LinesTopic in one partition (the
	// dense hopping-window row, see hoppingWindowDense).
	Lines1PTopic string
	RestoreTopic string // a compacted changelog of RestoreKeys keys
	RestoreKeys  int64
	Events       int64  // Nexmark events in NexmarkTopic
	NexmarkTopic string // Nexmark events
	// WindowEvents Nexmark events in NexmarkWindowTopic: the input of the
	// windowed queries (as many as the others by default; smaller on
	// request).
	WindowEvents       int64
	NexmarkWindowTopic string
	Partitions         int
	TmpDir             string
	ProfileDir         string // CPU profiles of the timed sections; empty: none
	profileName        string // the scenario being profiled
}

// measure is what a scenario measured over its timed section.
type measure struct {
	Records int64
	Elapsed time.Duration
	CPU     time.Duration
	// Note is shown next to the figures (what the scenario wrote, say).
	Note string
	// Late counts the window updates the app dropped as late (past their
	// window's grace period; the runtime's "late" dropped records).
	Late int64
}

// result is what a child reports to the parent.
type result struct {
	Scenario    string
	Records     int64
	Seconds     float64
	CPUSeconds  float64
	PeakRSS     int64
	Note        string `json:",omitempty"`
	Unavailable string `json:",omitempty"`
	Err         string `json:",omitempty"`
}

// errUnavailable marks a scenario that cannot run in this build (a
// feature that does not exist yet); its message says why.
type errUnavailable struct{ why string }

func (e errUnavailable) Error() string { return "not available: " + e.why }

// timer measures wall-clock and CPU time of a section.
type timer struct {
	began   time.Time
	cpu     time.Duration
	profile *os.File // open while a CPU profile is written
}

// startTimer starts timing, and profiling when e asks for profiles.
func startTimer(e env) (timer, error) {
	t := timer{}
	if e.ProfileDir != "" {
		f, err := os.Create(filepath.Join(e.ProfileDir, e.profileName+".cpu.pprof"))
		if err != nil {
			return t, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return t, fmt.Errorf("cpu profile: %w", err)
		}
		t.profile = f
	}
	cpu, err := cpuTime()
	t.began, t.cpu = time.Now(), cpu
	return t, err
}

func (t timer) stop(records int64) (measure, error) {
	cpu, err := cpuTime()
	if t.profile != nil {
		pprof.StopCPUProfile()
		if cerr := t.profile.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("cpu profile: %w", cerr)
		}
	}
	if err != nil {
		return measure{}, err
	}
	return measure{Records: records, Elapsed: time.Since(t.began), CPU: cpu - t.cpu}, nil
}

// runChild runs one scenario in this process and prints its result.
func runChild(ctx context.Context, name string, e env, stdout io.Writer) error {
	sc, ok := scenarioByName(name)
	if !ok {
		return fmt.Errorf("unknown scenario %q", name)
	}
	res := result{Scenario: name}
	e.profileName = name
	// A developer's before/after knob: the RocksDB engine without its
	// write-back buffer.
	if os.Getenv("KAFKI_BENCH_ROCKSDB_WRITEBACK") == "off" {
		rocksdb.DefaultConfig.WriteBackBytes = -1
	}
	m, err := sc.run(ctx, e)
	var un errUnavailable
	switch {
	case errors.As(err, &un):
		res.Unavailable = un.why
	case err != nil:
		res.Err = err.Error()
	default:
		res.Records, res.Seconds, res.CPUSeconds, res.Note = m.Records, m.Elapsed.Seconds(), m.CPU.Seconds(), m.Note
	}
	if res.PeakRSS, err = peakRSS(); err != nil && res.Err == "" {
		res.Err = err.Error()
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s%s\n", resultPrefix, b)
	return err
}

// childArgs are the flags that hand e to a child.
func childArgs(name string, e env) []string {
	return []string{
		"--child", name,
		"--brokers", strings.Join(e.Brokers, ","),
		"--run-id", e.RunID,
		"--records", strconv.FormatInt(e.Records, 10),
		"--words", strconv.FormatInt(e.Words, 10),
		"--lines-topic", e.LinesTopic,
		"--window-records", strconv.FormatInt(e.WindowRecords, 10),
		"--window-words", strconv.FormatInt(e.WindowWords, 10),
		"--window-lines-topic", e.WindowLinesTopic,
		"--window-lines-1p-topic", e.WindowLines1PTopic,
		"--lines-1p-topic", e.Lines1PTopic,
		"--restore-topic", e.RestoreTopic,
		"--restore-keys", strconv.FormatInt(e.RestoreKeys, 10),
		"--nexmark-events", strconv.FormatInt(e.Events, 10),
		"--nexmark-topic", e.NexmarkTopic,
		"--nexmark-window-events", strconv.FormatInt(e.WindowEvents, 10),
		"--nexmark-window-topic", e.NexmarkWindowTopic,
		"--partitions", strconv.Itoa(e.Partitions),
		"--tmp", e.TmpDir,
		"--profile", e.ProfileDir,
	}
}

// spawn re-executes this binary to run one scenario in a process of its
// own, so that its CPU time and peak memory are its own.
func spawn(ctx context.Context, name string, e env, timeout time.Duration) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, fmt.Errorf("find own executable: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, childArgs(name, e)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
			var r result
			if jerr := json.Unmarshal([]byte(rest), &r); jerr != nil {
				return result{}, fmt.Errorf("scenario %s: bad result line: %w", name, jerr)
			}
			return r, nil
		}
	}
	if ctx.Err() != nil {
		return result{}, fmt.Errorf("scenario %s: timed out after %v", name, timeout)
	}
	return result{}, fmt.Errorf("scenario %s: child reported nothing (exit: %v)", name, err)
}
