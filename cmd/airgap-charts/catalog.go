package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/airgap-charts/airgap-charts/config"
)

// catalogCmd normalizes a values file into a catalog (the reference's values_parser.py).
type catalogCmd struct {
	Values        string `required:"" placeholder:"FILE" help:"Values file listing addons."`
	Out           string `placeholder:"FILE" help:"Catalog file to write (default: standard output)."`
	OnlyAddon     string `placeholder:"NAMES" help:"Keep only these charts: comma-separated, case-insensitive, exact."`
	ExcludeAddons string `placeholder:"NAMES" help:"Leave out these charts."`
}

func (c *catalogCmd) Run(a *app) error {
	if c.Out != "" {
		if st, err := os.Stat(c.Out); err == nil && st.IsDir() {
			return &config.InputError{Pos: config.Position{File: c.Out}, Msg: "is a directory, not a catalog file"}
		}
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	addons, err := config.LoadValues(c.Values)
	if err != nil {
		return err
	}
	kept, warnings := config.Filter(addons, config.ModeValues, c.OnlyAddon, c.ExcludeAddons)
	for _, w := range warnings {
		log.Warn(w)
	}
	if len(kept) == 0 {
		return usagef("no addon left after --only-addon %q / --exclude-addons %q", c.OnlyAddon, c.ExcludeAddons)
	}
	if c.Out == "" {
		data, err := config.MarshalCatalog(kept)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(data)
		return err
	}
	if err := config.WriteCatalog(c.Out, kept); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	log.Info("catalog written", zap.String("file", c.Out), zap.Int("addons", len(kept)))
	return nil
}
