package main

import (
	"context"
	"errors"
	"io"

	"go.uber.org/zap"
)

// runDemo runs the self-contained demonstration.
func runDemo(ctx context.Context, stdout io.Writer, log *zap.Logger) error {
	_, _, _ = ctx, stdout, log
	return errors.New("demo: not built yet")
}
