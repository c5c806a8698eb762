package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// CheckpointFileName is the name of the checkpoint file in a task directory.
const CheckpointFileName = ".checkpoint"

// CheckpointVersion is the version written on the first line of checkpoint
// files. It is Kafka Streams' OffsetCheckpoint version, and the format is
// the same.
const CheckpointVersion = 0

// ErrCorruptCheckpoint is wrapped by the error ReadCheckpoint returns for a
// checkpoint file it cannot trust: truncated, garbage, or of an unknown
// version.
var ErrCorruptCheckpoint = errors.New("changelog: corrupt checkpoint file")

// Offsets maps changelog partitions to offsets.
//
// In a checkpoint an offset is the NEXT offset to read from that changelog
// partition: the offset of the last record the store holds plus one (or
// past a transaction marker), which is where restoration starts. An absent
// partition means restoration starts from the beginning.
type Offsets map[TopicPartition]int64

// ReadCheckpoint reads the checkpoint file at path. A missing file is an
// empty checkpoint and no error. A file that is not a well-formed
// checkpoint of version CheckpointVersion returns an error wrapping
// ErrCorruptCheckpoint; callers treat it as missing (TaskDir.ReadCheckpoint
// does, and logs it).
//
// The format is text, one item a line, each line ending in a newline:
//
//	0                  version
//	2                  number of entries
//	topic partition offset
//	topic partition offset
//
// Every line must end in a newline, so that a truncated file is detected
// even when it was cut inside the digits of the last offset.
func ReadCheckpoint(path string) (Offsets, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Offsets{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("changelog: read checkpoint %s: %w", path, err)
	}
	offsets, err := parseCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCorruptCheckpoint, path, err)
	}
	return offsets, nil
}

func parseCheckpoint(data []byte) (Offsets, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	if data[len(data)-1] != '\n' {
		return nil, errors.New("truncated: no newline at the end")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	if len(lines) < 2 {
		return nil, errors.New("truncated: no entry count")
	}
	version, err := strconv.Atoi(lines[0])
	if err != nil {
		return nil, fmt.Errorf("bad version line %q", lines[0])
	}
	if version != CheckpointVersion {
		return nil, fmt.Errorf("unknown version %d (want %d)", version, CheckpointVersion)
	}
	count, err := strconv.Atoi(lines[1])
	if err != nil || count < 0 {
		return nil, fmt.Errorf("bad entry count %q", lines[1])
	}
	entries := lines[2:]
	if len(entries) != count {
		return nil, fmt.Errorf("expected %d entries, found %d", count, len(entries))
	}
	offsets := make(Offsets, count)
	for i, line := range entries {
		fields := strings.Split(line, " ")
		if len(fields) != 3 || fields[0] == "" {
			return nil, fmt.Errorf("entry %d: malformed line %q", i+1, line)
		}
		partition, err := strconv.ParseInt(fields[1], 10, 32)
		if err != nil || partition < 0 {
			return nil, fmt.Errorf("entry %d: bad partition %q", i+1, fields[1])
		}
		offset, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || offset < 0 {
			return nil, fmt.Errorf("entry %d: bad offset %q", i+1, fields[2])
		}
		tp := TopicPartition{Topic: fields[0], Partition: int32(partition)}
		if _, dup := offsets[tp]; dup {
			return nil, fmt.Errorf("entry %d: duplicate partition %s", i+1, tp)
		}
		offsets[tp] = offset
	}
	return offsets, nil
}

// WriteCheckpoint writes offsets to the checkpoint file at path atomically:
// it writes a temporary file beside it, syncs it, renames it over path and
// syncs the directory, so that a crash leaves either the old file or the
// new one. Negative offsets are not written (they mean "unknown").
func WriteCheckpoint(path string, offsets Offsets) error {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if off < 0 {
			continue
		}
		if tp.Topic == "" || strings.ContainsAny(tp.Topic, " \n") || tp.Partition < 0 {
			return fmt.Errorf("changelog: write checkpoint %s: invalid partition %q/%d", path, tp.Topic, tp.Partition)
		}
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%d\n%d\n", CheckpointVersion, len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&buf, "%s %d %d\n", tp.Topic, tp.Partition, offsets[tp])
	}
	if err := writeFileAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("changelog: write checkpoint: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
