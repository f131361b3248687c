package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestLoggerFormatsAndLevels(t *testing.T) {
	t.Run("json, and auto off a terminal", func(t *testing.T) {
		for _, format := range []string{"json", "auto"} {
			var buf bytes.Buffer
			log, err := newLogger(format, "info", &buf)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("hidden")
			log.With(zap.String("addon", "loki")).Info("resolved", zap.String("version", "6.6.0"))
			var entry map[string]any
			if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
				t.Fatalf("%s: not one JSON line: %v\n%s", format, err, buf.String())
			}
			if entry["level"] != "info" || entry["msg"] != "resolved" || entry["addon"] != "loki" || entry["version"] != "6.6.0" || entry["time"] == nil {
				t.Errorf("%s: entry %v", format, entry)
			}
		}
	})
	t.Run("console without a terminal has no colour codes", func(t *testing.T) {
		var buf bytes.Buffer
		log, err := newLogger("console", "warn", &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hidden below warn")
		log.Warn("careful", zap.String("addon", "alb"))
		out := buf.String()
		if strings.Contains(out, "hidden") || !strings.Contains(out, "WARN\tcareful") || !strings.Contains(out, `{"addon": "alb"}`) {
			t.Errorf("console output %q", out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("colour codes written to a non-terminal: %q", out)
		}
	})
	t.Run("bad level", func(t *testing.T) {
		if _, err := newLogger("json", "loud", &bytes.Buffer{}); err == nil {
			t.Fatal("accepted log level loud")
		}
	})
}
