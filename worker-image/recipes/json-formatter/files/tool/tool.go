// Package tool is the JSON formatter: validate, pretty-print or minify JSON.
package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Summary is one line shown in --help next to the default action.
const Summary = "validate and pretty-print JSON"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --indent N    spaces per level, 0 to 8 (default 2)
  --tab         indent with tabs
  --compact     minify instead of pretty-printing
  --sort-keys   sort the keys of every object
  --check       only check that the input is valid JSON

Input is a file name, JSON text given as an argument, or standard input.

Examples:
  {name} data.json
  {name} '{"b":1,"a":[1,2]}'
  curl -s https://example.com/api | {name} --sort-keys
`

// Options choose the output format.
type Options struct {
	Indent   string
	Compact  bool
	SortKeys bool
}

// Position converts a byte offset into a 1-based line and column (columns count characters).
func Position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col = 1, 1
	for _, r := range string(data[:offset]) {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Validate reports whether data is exactly one JSON value, with the line and column of an error.
func Validate(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("the input is empty")
	}
	if !utf8.Valid(data) {
		return errors.New("the input is not UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := Position(data, syn.Offset-1)
			return fmt.Errorf("invalid JSON at line %d, column %d: %s", line, col, syn.Error())
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			line, col := Position(data, int64(len(bytes.TrimRight(data, " \t\r\n"))))
			return fmt.Errorf("invalid JSON at line %d, column %d: the input ends too early", line, col)
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		line, col := Position(data, end)
		for _, r := range string(data[end:]) {
			if r == ' ' || r == '\t' || r == '\r' {
				col++
				continue
			}
			if r == '\n' {
				line++
				col = 1
				continue
			}
			break
		}
		return fmt.Errorf("invalid JSON at line %d, column %d: unexpected data after the JSON value", line, col)
	}
	return nil
}

// Format validates and re-formats data. Key order and number spelling are kept unless SortKeys.
func Format(data []byte, o Options) ([]byte, error) {
	if err := Validate(data); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if o.SortKeys {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v interface{}
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if !o.Compact {
			enc.SetIndent("", o.Indent)
		}
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	var err error
	if o.Compact {
		err = json.Compact(&buf, data)
	} else {
		err = json.Indent(&buf, bytes.TrimSpace(data), "", o.Indent)
	}
	if err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	indent := fs.Int("indent", 2, "")
	tab := fs.Bool("tab", false, "")
	compact := fs.Bool("compact", false, "")
	sortKeys := fs.Bool("sort-keys", false, "")
	check := fs.Bool("check", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *indent < 0 || *indent > 8 {
		return errors.New("the indent must be between 0 and 8")
	}
	var data []byte
	switch {
	case fs.NArg() == 1 && isFile(fs.Arg(0)):
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("cannot read the file: %v", err)
		}
		data = b
	case fs.NArg() > 0:
		data = []byte(strings.Join(fs.Args(), " "))
	case in != nil:
		b, err := io.ReadAll(io.LimitReader(in, 256<<20))
		if err != nil {
			return err
		}
		data = b
	default:
		return errors.New("give a JSON file, JSON text, or pipe JSON on standard input")
	}
	if *check {
		if err := Validate(data); err != nil {
			return err
		}
		_, err := fmt.Fprintln(out, "valid JSON")
		return err
	}
	o := Options{Indent: strings.Repeat(" ", *indent), Compact: *compact, SortKeys: *sortKeys}
	if *tab {
		o.Indent = "\t"
	}
	formatted, err := Format(data, o)
	if err != nil {
		return err
	}
	_, err = out.Write(formatted)
	return err
}

func isFile(name string) bool {
	info, err := os.Stat(name)
	return err == nil && info.Mode().IsRegular()
}
