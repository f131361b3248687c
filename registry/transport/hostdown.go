package transport

import (
	"errors"
	"fmt"
	"github.com/airgap-charts/airgap-charts/config"
	"net"
	"syscall"

	"go.uber.org/zap"
)

// DefaultDownAfter is how many connection failures in a row mark a host down for the run.
const DefaultDownAfter = 3

// HostDownError is a request not sent because its host failed to connect several times in
// a row: it is taken to be down for the rest of the run, and work queued for it fails at
// once instead of waiting through its own retries.
type HostDownError struct {
	Role     string // "destination" or "registry"
	Host     string
	Cause    string // the last connection failure, shortly: "connection refused"
	Failures int
}

func (e *HostDownError) Error() string {
	return fmt.Sprintf("%s %s unreachable: %s (%d connection attempts failed in a row; nothing more is sent to it this run)",
		e.Role, e.Host, e.Cause, e.Failures)
}

// IsConnectFailure reports whether err means the host could not be reached at all:
// refused, unreachable, unknown to DNS, a failed TLS handshake. A timeout or a reset of a
// connection that was made is not one.
func IsConnectFailure(err error) bool {
	if err == nil {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) || isTLSFailure(err) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EHOSTDOWN) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !op.Timeout()
}

// connectCause is a short account of a connection failure.
func connectCause(err error) string {
	var dns *net.DNSError
	var errno syscall.Errno
	var te *TLSError
	switch {
	case errors.As(err, &te):
		return "TLS handshake failed: " + te.Err.Error()
	case errors.As(err, &dns):
		return "DNS lookup failed: " + dns.Err
	case errors.As(err, &errno):
		return errno.Error()
	}
	return err.Error()
}

// Connected records that a request to host got an answer: its failure count restarts.
func (h *Limits) Connected(host string) {
	s := h.state(host)
	s.mu.Lock()
	s.connFails = 0
	s.mu.Unlock()
}

// ConnectFailed records a connection failure to host; after downAfter in a row the host
// is down for the run.
func (h *Limits) ConnectFailed(host string, err error) {
	s := h.state(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connFails++
	if s.down == nil && h.downAfter > 0 && s.connFails >= h.downAfter {
		role := "registry"
		if h.destinations[config.HostKey(host)] {
			role = "destination"
		}
		s.down = &HostDownError{Role: role, Host: host, Cause: connectCause(err), Failures: s.connFails}
		if h.log != nil {
			h.log.Warn("registry host is down for the rest of the run", zapHostDown(s.down)...)
		}
	}
}

// IsDown is the error every request to a down host fails with, or nil.
func (h *Limits) IsDown(host string) error {
	s := h.state(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == nil {
		return nil
	}
	return s.down
}

func zapHostDown(e *HostDownError) []zap.Field {
	return []zap.Field{zap.String("host", e.Host), zap.String("role", e.Role), zap.String("cause", e.Cause), zap.Int("failures", e.Failures)}
}
