package engine

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// readLockYAML reads a lock readLockFast does not take, with yaml.v3: one decode refusing
// unknown fields; only when it fails is the head parsed again, so that a lock from a newer
// schema (which may have fields this build does not know) is refused as such.
func readLockYAML(path string, data []byte) (*Lock, error) {
	var l Lock
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&l)
	if err == nil {
		return &l, nil
	}
	var head struct {
		SchemaVersion int `yaml:"schema_version"`
	}
	if herr := yaml.Unmarshal(data, &head); herr != nil {
		err = herr
	} else if verr := checkLockSchema(path, head.SchemaVersion); verr != nil {
		return nil, verr
	}
	return nil, (&LockError{Path: path, Msg: fmt.Sprintf("not a lock file: %v", err)}).inputError()
}

// marshalLockYAML writes c (sorted) with yaml.v3: for a lock with a string that is not
// UTF-8, which yaml.v3 writes as !!binary.
func marshalLockYAML(c *Lock) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(lockHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
