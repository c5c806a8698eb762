package main

import (
	"bufio"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time this process has used so far
// (getrusage(RUSAGE_SELF)): all its threads, including RocksDB's.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// peakRSS returns this process's resident-set high-water mark (VmHWM) in
// bytes.
func peakRSS() (int64, error) {
	kb, err := procStatusKB("/proc/self/status", "VmHWM:")
	if err != nil {
		return 0, err
	}
	return kb * 1024, nil
}

// procStatusKB reads a "<field> <n> kB" line of a /proc file.
func procStatusKB(path, field string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, field) {
			continue
		}
		fs := strings.Fields(strings.TrimPrefix(line, field))
		if len(fs) == 0 {
			break
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", path, field, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s has no %s line", path, field)
}

// machine describes the machine the benchmarks ran on.
type machine struct {
	CPU      string
	Cores    int
	MemoryGB float64
	Go       string
	OS       string
}

func describeMachine() machine {
	m := machine{CPU: "unknown", Cores: goruntime.NumCPU(), Go: goruntime.Version(),
		OS: goruntime.GOOS + "/" + goruntime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if kb, err := procStatusKB("/proc/meminfo", "MemTotal:"); err == nil {
		m.MemoryGB = float64(kb) / (1 << 20)
	}
	return m
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB memory, %s, %s", m.CPU, m.Cores, m.MemoryGB, m.Go, m.OS)
}
