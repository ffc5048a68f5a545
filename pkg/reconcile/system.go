package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// SystemOptions configure a System. Manifest and Deployer are required;
// zero values of the rest take the Controller's defaults.
type SystemOptions struct {
	// Manifest is the system application (translate.SystemApplication),
	// with its version annotation set.
	Manifest *wadm.Manifest
	// Deployer runs it: the wadm backend (the local one serves the shared
	// parts in-process and needs no system application).
	Deployer deploy.Deployer
	// Logger is the structured logger; nil logs nothing.
	Logger *zap.Logger
	// Resync checks the deployed version this often.
	Resync time.Duration
	// RetryBase and RetryMax bound the exponential backoff after an error.
	RetryBase, RetryMax time.Duration
	// Timeout bounds one Ensure.
	Timeout time.Duration
}

// System keeps the shared system application deployed at its version, so
// the shared components every Component's manifest references exist: wadm
// refuses to deploy an application whose shared components no deployed
// shared application offers.
type System struct {
	opts SystemOptions
	log  *zap.Logger
}

// NewSystem validates opts and returns a System; Run starts it.
func NewSystem(opts SystemOptions) (*System, error) {
	d := Options{Resync: opts.Resync, RetryBase: opts.RetryBase, RetryMax: opts.RetryMax, ReconcileTimeout: opts.Timeout, Logger: opts.Logger}.withDefaults()
	opts.Resync, opts.RetryBase, opts.RetryMax, opts.Timeout, opts.Logger = d.Resync, d.RetryBase, d.RetryMax, d.ReconcileTimeout, d.Logger
	var errs []error
	if opts.Manifest == nil || opts.Manifest.Version() == "" {
		errs = append(errs, errors.New("SystemOptions.Manifest is nil or has no version: pass translate.SystemApplication's"))
	}
	if opts.Deployer == nil {
		errs = append(errs, errors.New("SystemOptions.Deployer is nil: pass deploy.NewWadm(client)"))
	}
	if opts.Resync < 0 || opts.RetryBase < 0 || opts.RetryMax < 0 || opts.Timeout < 0 {
		errs = append(errs, errors.New("SystemOptions durations must not be negative (0 takes the default)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return &System{opts: opts, log: opts.Logger.With(zap.String("app", opts.Manifest.Metadata.Name), zap.String("version", opts.Manifest.Version()))}, nil
}

// Ensure puts and deploys the system application unless its version is
// the deployed one already, and reports whether it did. Safe to call at any
// time: an unchanged application costs one status read.
func (s *System) Ensure(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	m := s.opts.Manifest
	name, version := m.Metadata.Name, m.Version()
	st, err := s.opts.Deployer.Status(ctx, name)
	if err != nil {
		return false, fmt.Errorf("system application: %w", err)
	}
	if st.DeployedVersion == version {
		return false, nil
	}
	if _, err := s.opts.Deployer.Put(ctx, m); err != nil {
		return false, fmt.Errorf("system application: %w", err)
	}
	if err := s.opts.Deployer.Deploy(ctx, name, version); err != nil {
		return false, fmt.Errorf("system application: %w", err)
	}
	s.log.Info("system application deployed", zap.String("previous_version", st.DeployedVersion))
	return true, nil
}

// Run ensures the system application now and every Resync until ctx ends,
// retrying a failure with backoff, then returns nil. Failures are logged,
// never fatal: wadm may come up after canvasd.
func (s *System) Run(ctx context.Context) error {
	failures := 0
	for {
		wait := s.opts.Resync
		if _, err := s.Ensure(ctx); err != nil && ctx.Err() == nil {
			wait = backoff(s.opts.RetryBase, s.opts.RetryMax, failures)
			failures++
			s.log.Warn("system application not deployed; retrying with backoff", zap.Int("failures", failures), zap.Duration("retry_in", wait), zap.Error(err))
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
