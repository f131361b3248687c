package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Duration is a time span that report.json writes in one format everywhere: seconds, as a
// JSON number with up to nanosecond precision (1.5 is a second and a half).
type Duration time.Duration

// Seconds is d in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// String is d as Go prints a duration ("1.5s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON implements json.Marshaler: seconds as a number.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Seconds()) }

// UnmarshalJSON implements json.Unmarshaler: seconds as a number.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want seconds as a number: %w", err)
	}
	if s < 0 || s > math.MaxInt64/float64(time.Second) {
		return fmt.Errorf("duration: %v seconds is out of range", s)
	}
	*d = Duration(math.Round(s * float64(time.Second)))
	return nil
}
