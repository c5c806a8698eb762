package postgres

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kafki/kafki/connect"
)

// PostgreSQL type OIDs the source maps to Connect types; others travel as
// their text form.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// columnSchema is the Connect schema of a column, as Debezium's
// PostgreSQL connector maps it (time.precision.mode=adaptive for
// timestamps; decimal.handling.mode string or double).
func columnSchema(oid uint32, optional bool, decimalMode string) *connect.Schema {
	s := &connect.Schema{Optional: optional}
	switch oid {
	case oidBool:
		s.Type = connect.Boolean
	case oidInt2:
		s.Type = connect.Int16
	case oidInt4:
		s.Type = connect.Int32
	case oidInt8:
		s.Type = connect.Int64
	case oidFloat4:
		s.Type = connect.Float32
	case oidFloat8:
		s.Type = connect.Float64
	case oidNumeric:
		if decimalMode == "double" {
			s.Type = connect.Float64
		} else {
			s.Type = connect.String
		}
	case oidBytea:
		s.Type = connect.Bytes
	case oidDate:
		s.Type, s.Name = connect.Int32, connect.DebeziumDate
	case oidTime:
		s.Type, s.Name = connect.Int64, connect.DebeziumMicroTime
	case oidTimestamp:
		s.Type, s.Name = connect.Int64, connect.DebeziumMicroTS
	case oidTimestamptz:
		s.Type, s.Name = connect.String, connect.DebeziumZonedTS
	case oidUUID:
		s.Type, s.Name = connect.String, connect.DebeziumUUID
	case oidJSON, oidJSONB:
		s.Type, s.Name = connect.String, connect.DebeziumJSON
	default:
		s.Type = connect.String
	}
	return s
}

// textValue converts a column's text form (as pgoutput and the simple
// query protocol send it, with DateStyle ISO and TimeZone UTC) to the
// Connect value of its schema.
func textValue(oid uint32, s *connect.Schema, text string) (any, error) {
	bad := func(err error) error {
		return fmt.Errorf("%w: %q is not a valid value of type oid %d: %v", connect.ErrData, text, oid, err)
	}
	switch oid {
	case oidBool:
		return text == "t" || text == "true", nil
	case oidInt2:
		n, err := strconv.ParseInt(text, 10, 16)
		if err != nil {
			return nil, bad(err)
		}
		return int16(n), nil
	case oidInt4:
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return nil, bad(err)
		}
		return int32(n), nil
	case oidInt8:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, bad(err)
		}
		return n, nil
	case oidFloat4, oidFloat8:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, bad(err)
		}
		if oid == oidFloat4 {
			return float32(f), nil
		}
		return f, nil
	case oidNumeric:
		if s.Type == connect.Float64 {
			f, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, bad(err)
			}
			return f, nil
		}
		return text, nil
	case oidBytea:
		if !strings.HasPrefix(text, `\x`) {
			return nil, bad(fmt.Errorf("want hex format (bytea_output=hex)"))
		}
		b, err := hex.DecodeString(text[2:])
		if err != nil {
			return nil, bad(err)
		}
		return b, nil
	case oidDate:
		switch text {
		case "infinity":
			return int32(math.MaxInt32), nil
		case "-infinity":
			return int32(math.MinInt32), nil
		}
		t, err := time.Parse("2006-01-02", text)
		if err != nil {
			return nil, bad(err)
		}
		return int32(t.Unix() / 86400), nil
	case oidTime:
		t, err := time.Parse("15:04:05.999999", text)
		if err != nil {
			return nil, bad(err)
		}
		return int64(t.Hour())*3_600_000_000 + int64(t.Minute())*60_000_000 + int64(t.Second())*1_000_000 + int64(t.Nanosecond()/1000), nil
	case oidTimestamp:
		switch text {
		case "infinity":
			return int64(math.MaxInt64), nil
		case "-infinity":
			return int64(math.MinInt64), nil
		}
		t, err := time.Parse("2006-01-02 15:04:05.999999", text)
		if err != nil {
			return nil, bad(err)
		}
		return t.UnixMicro(), nil
	case oidTimestamptz:
		if text == "infinity" || text == "-infinity" {
			return text, nil
		}
		t, err := time.Parse("2006-01-02 15:04:05.999999Z07", text)
		if err != nil {
			if t, err = time.Parse("2006-01-02 15:04:05.999999Z07:00", text); err != nil {
				return nil, bad(err)
			}
		}
		return t.UTC().Format("2006-01-02T15:04:05.999999Z"), nil
	}
	return text, nil
}
