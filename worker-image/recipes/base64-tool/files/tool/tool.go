// Package tool is the Base64 encoder and decoder.
package tool

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Summary is one line shown in --help next to the default action.
const Summary = "encode text to Base64 or decode it back"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Commands:
  encode TEXT   encode (the default)
  decode TEXT   decode

Options:
  --url         use the URL-safe alphabet (- and _ instead of + and /)
  --no-padding  leave out the trailing = padding when encoding

Input is the text given as arguments, or standard input (encoded byte for byte).

Examples:
  {name} encode "hello world"
  {name} decode aGVsbG8gd29ybGQ=
  cat picture.png | {name} > picture.txt
`

// Encode encodes data with the standard or URL-safe alphabet.
func Encode(data []byte, url, padding bool) string {
	enc := base64.StdEncoding
	if url {
		enc = base64.URLEncoding
	}
	if !padding {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.EncodeToString(data)
}

// Decode decodes Base64 in either alphabet, with or without padding, ignoring whitespace.
func Decode(text string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, text)
	if clean == "" {
		return nil, errors.New("there is nothing to decode")
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(clean, "-_") {
		enc = base64.URLEncoding
	}
	unpadded := strings.TrimRight(clean, "=")
	data, err := enc.WithPadding(base64.NoPadding).DecodeString(unpadded)
	if err != nil {
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			return nil, fmt.Errorf("the input is not valid Base64 (problem at character %d)", int64(corrupt)+1)
		}
		return nil, errors.New("the input is not valid Base64")
	}
	if pad := len(clean) - len(unpadded); pad > 0 && (len(clean)%4 != 0 || pad > 2) {
		return nil, errors.New("the input is not valid Base64 (wrong padding)")
	}
	return data, nil
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.Bool("url", false, "")
	noPadding := fs.Bool("no-padding", false, "")
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	mode := "encode"
	if len(positional) > 0 && (positional[0] == "encode" || positional[0] == "decode") {
		mode, positional = positional[0], positional[1:]
	}
	var data []byte
	switch {
	case len(positional) > 0:
		data = []byte(strings.Join(positional, " "))
	case in != nil:
		b, err := io.ReadAll(io.LimitReader(in, 64<<20))
		if err != nil {
			return err
		}
		data = b
	default:
		return errors.New("give the text as arguments or on standard input")
	}
	if mode == "decode" {
		decoded, err := Decode(string(data))
		if err != nil {
			return err
		}
		_, err = out.Write(decoded)
		if err == nil && len(positional) > 0 {
			_, err = fmt.Fprintln(out)
		}
		return err
	}
	_, err := fmt.Fprintln(out, Encode(data, *url, !*noPadding))
	return err
}
