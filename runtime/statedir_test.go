package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

// TestSecondInstanceOnSameStateDirRefused starts two instances of one
// application on one state directory: the second is refused with an error
// naming the directory and the process that holds it, and starts once the
// first has closed.
func TestSecondInstanceOnSameStateDirRefused(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	appID := c.Topic("locked")
	dir := t.TempDir()
	topo := wordCount(t, in, out, state.RocksDB)
	first := startApp(t, topo, appID, testOpts(c, dir)...)

	second, err := New(topo, appID, testOpts(c, dir)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = second.Start(ctx)
	if !errors.Is(err, changelog.ErrStateDirInUse) {
		t.Fatalf("second instance on the same state directory: %v", err)
	}
	appDir := filepath.Join(dir, appID)
	if msg := err.Error(); !strings.Contains(msg, appDir) || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("error names neither the directory %s nor the holder: %v", appDir, err)
	}
	if second.State() != Error {
		t.Fatalf("refused instance in state %v", second.State())
	}
	if err := second.CleanUp(); !errors.Is(err, changelog.ErrStateDirInUse) {
		t.Fatalf("clean up under a running instance: %v", err)
	}

	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	startApp(t, topo, appID, testOpts(c, dir)...)
}
