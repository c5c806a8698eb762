package clientconfig

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one key and value of a properties file, with the line it
// starts on.
type Property struct {
	Key, Value string
	Line       int
}

// ParseProperties reads the Java properties format (java.util.Properties.load):
// key=value, key:value or key value; '#' and '!' comment lines; a line
// ending in an odd number of backslashes continues on the next; \t \n \r \f
// \uXXXX and \<any> escapes. A later duplicate key wins, as in Java. Errors
// name the line, never the value, since a value may be a secret.
func ParseProperties(data string) ([]Property, error) {
	if !utf8.ValidString(data) {
		return nil, fmt.Errorf("properties: not valid UTF-8")
	}
	var out []Property
	lines := splitLines(data)
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines.
		for endsInEscape(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsInEscape(line) { // continuation at end of file
			line = line[:len(line)-1]
		}
		k, v, err := splitKeyValue(line)
		if err != nil {
			return nil, fmt.Errorf("properties: line %d: %w", start, err)
		}
		out = append(out, Property{Key: k, Value: v, Line: start})
	}
	return out, nil
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}

// endsInEscape reports whether line ends with an odd number of backslashes.
func endsInEscape(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func splitKeyValue(line string) (key, value string, err error) {
	// The key ends at the first unescaped '=', ':' or white space.
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	rawKey, rest := line[:end], line[end:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	if key, err = unescape(rawKey); err != nil {
		return "", "", fmt.Errorf("key: %w", err)
	}
	if value, err = unescape(rest); err != nil {
		// The value may be a secret: name the key only.
		return "", "", fmt.Errorf("value of %s: %w", key, err)
	}
	return key, value, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return "", fmt.Errorf("malformed \\uXXXX escape")
			}
			i += 4
			// Java strings are UTF-16: a surrogate pair comes as two escapes.
			if utf16.IsSurrogate(r) && strings.HasPrefix(s[i+1:], `\u`) {
				if r2, ok := hex4(s[i+3:]); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// hex4 decodes the four hex digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, h := range s[:4] {
		var d rune
		switch {
		case h >= '0' && h <= '9':
			d = h - '0'
		case h >= 'a' && h <= 'f':
			d = h - 'a' + 10
		case h >= 'A' && h <= 'F':
			d = h - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | d
	}
	return r, true
}
