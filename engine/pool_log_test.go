package engine

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airgap-charts/airgap-charts/registry/registrytest"
)

// A job's end is logged at debug level with the image, its destination and the outcome; at
// info level no job line is written.
func TestPoolLogsJobsAtDebugOnly(t *testing.T) {
	src, dst := registrytest.New(t), registrytest.New(t)
	imgs := images(t, 2)
	for i, img := range imgs {
		push(t, fmt.Sprintf("%s/app%d:1", src.Host, i), img)
	}
	missing := job(src.Host+"/absent:1", dst.Host)
	for _, level := range []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel} {
		core, logs := observer.New(level)
		pool := NewPool(context.Background(), PoolOptions{Concurrency: 2, Client: newClient(t), Policy: Policy{SkipExisting: true}, Logger: zap.New(core)})
		var jobs []ImageJob
		for i := range imgs {
			j := job(fmt.Sprintf("%s/app%d:1", src.Host, i), dst.Host)
			jobs = append(jobs, j)
			pool.Submit(j)
		}
		pool.Submit(missing)
		pool.Close()
		done := logs.FilterMessage("image job done").All()
		failed := logs.FilterMessage("image job failed").All()
		if level == zapcore.InfoLevel {
			if len(done)+len(failed) != 0 {
				t.Fatalf("at info: %d job lines, want none", len(done)+len(failed))
			}
			continue
		}
		if len(done) != len(jobs) || len(failed) != 1 {
			t.Fatalf("at debug: %d done and %d failed lines, want %d and 1", len(done), len(failed), len(jobs))
		}
		seen := map[string]bool{}
		for _, e := range done {
			f := e.ContextMap()
			seen[fmt.Sprint(f["image"])] = true
			if f["outcome"] != string(OutcomeCopied) || f["destination"] == "" {
				t.Errorf("done line %v: want outcome %s and a destination", f, OutcomeCopied)
			}
		}
		for _, j := range jobs {
			if !seen[j.Source.String()] {
				t.Errorf("no done line for %s (lines for %v)", j.Source, seen)
			}
		}
		if f := failed[0].ContextMap(); f["image"] != missing.Source.String() || f["error"] == nil {
			t.Errorf("failed line %v: want image %s with its error", f, missing.Source)
		}
	}
}
