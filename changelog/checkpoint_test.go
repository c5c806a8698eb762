package changelog

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), CheckpointFileName)
	want := Offsets{
		{Topic: "app-counts-changelog", Partition: 3}:  12345,
		{Topic: "app-counts-changelog", Partition: 0}:  0,
		{Topic: "app-windows-changelog", Partition: 3}: 1 << 40,
	}
	if err := WriteCheckpoint(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for tp, off := range want {
		if got[tp] != off {
			t.Errorf("%s: got %d, want %d", tp, got[tp], off)
		}
	}
	data, _ := os.ReadFile(path)
	const wantText = "0\n3\napp-counts-changelog 0 0\napp-counts-changelog 3 12345\napp-windows-changelog 3 1099511627776\n"
	if string(data) != wantText {
		t.Errorf("file:\n%s\nwant (Kafka Streams' format, sorted):\n%s", data, wantText)
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the checkpoint", len(entries))
	}

	// Overwrite with fewer entries, and with none.
	if err := WriteCheckpoint(path, Offsets{{Topic: "t", Partition: 1}: 7, {Topic: "u", Partition: 1}: -1}); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadCheckpoint(path); err != nil || len(got) != 1 || got[TopicPartition{"t", 1}] != 7 {
		t.Fatalf("got %v, %v; want only t-1 at 7 (negative offsets are not written)", got, err)
	}
	if err := WriteCheckpoint(path, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadCheckpoint(path); err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want empty", got, err)
	}
}

func TestCheckpointMissingIsEmpty(t *testing.T) {
	got, err := ReadCheckpoint(filepath.Join(t.TempDir(), "nope"))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want empty and no error", got, err)
	}
}

func TestCheckpointRejectsInvalidTopic(t *testing.T) {
	path := filepath.Join(t.TempDir(), CheckpointFileName)
	if err := WriteCheckpoint(path, Offsets{{Topic: "a b", Partition: 0}: 1}); err == nil {
		t.Fatal("a topic with a space was written")
	}
}

func TestCheckpointCorruption(t *testing.T) {
	valid := "0\n2\napp-s-changelog 0 100\napp-t-changelog 0 2500\n"
	cases := map[string]string{
		"empty":                  "",
		"truncated in last line": valid[:len(valid)-3],
		"truncated before last":  valid[:strings.Index(valid, "app-t")],
		"truncated after count":  "0\n2\n",
		"version only":           "0\n",
		"garbage":                "\x00\xff\x13garbage\nmore garbage\n",
		"wrong version":          strings.Replace(valid, "0\n", "1\n", 1),
		"future version":         strings.Replace(valid, "0\n", "42\n", 1),
		"count too high":         strings.Replace(valid, "\n2\n", "\n3\n", 1),
		"count too low":          strings.Replace(valid, "\n2\n", "\n1\n", 1),
		"negative count":         "0\n-1\n",
		"bad offset":             strings.Replace(valid, "2500", "25x0", 1),
		"negative offset":        strings.Replace(valid, "2500", "-2500", 1),
		"bad partition":          strings.Replace(valid, "t-changelog 0", "t-changelog zero", 1),
		"extra field":            strings.Replace(valid, "2500", "2500 7", 1),
		"missing field":          strings.Replace(valid, " 2500", "", 1),
		"duplicate entry":        "0\n2\napp-s-changelog 0 100\napp-s-changelog 0 200\n",
		"blank line":             "0\n2\napp-s-changelog 0 100\n\napp-t-changelog 0 2500\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, CheckpointFileName)
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadCheckpoint(path)
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("ReadCheckpoint = %v, %v; want ErrCorruptCheckpoint", got, err)
			}

			// Through a task directory it is treated as missing, and logged.
			var logs bytes.Buffer
			sd, err := OpenStateDir(filepath.Join(dir, "state"), "app", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			td, err := sd.LockTask("0_0")
			if err != nil {
				t.Fatal(err)
			}
			defer td.Close()
			if err := os.WriteFile(td.CheckpointPath(), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if offsets := td.ReadCheckpoint(); len(offsets) != 0 {
				t.Fatalf("corrupt checkpoint read as %v, want empty", offsets)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), td.CheckpointPath()) {
				t.Fatalf("no warning naming the file was logged: %q", logs.String())
			}
		})
	}
}

func TestCheckpointValidAfterCorruptionCases(t *testing.T) {
	// The base content of the corruption cases is itself valid.
	path := filepath.Join(t.TempDir(), CheckpointFileName)
	if err := os.WriteFile(path, []byte("0\n2\napp-s-changelog 0 100\napp-t-changelog 0 2500\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(path)
	if err != nil || got[TopicPartition{"app-t-changelog", 0}] != 2500 {
		t.Fatalf("got %v, %v", got, err)
	}
}
