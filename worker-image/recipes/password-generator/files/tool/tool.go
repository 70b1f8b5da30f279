// Package tool is the password generator: random passwords from the system's secure random source.
package tool

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
)

// Summary is one line shown in --help next to the default action.
const Summary = "generate strong random passwords"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --length N       password length, 4 to 256 (default 16)
  --count N        how many passwords, 1 to 100 (default 1)
  --no-upper       leave out upper-case letters
  --no-lower       leave out lower-case letters
  --no-digits      leave out digits
  --no-symbols     leave out symbols
  --no-ambiguous   leave out look-alike characters (I l 1 O 0 o)
  --strength       also print the estimated strength in bits

Each password contains at least one character of every chosen kind.

Examples:
  {name}
  {name} --length 24 --count 5
  {name} --no-symbols --no-ambiguous --length 12
`

// Character sets.
const (
	Lower     = "abcdefghijklmnopqrstuvwxyz"
	Upper     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	Digits    = "0123456789"
	Symbols   = "!@#$%^&*()-_=+[]{};:,.?/"
	Ambiguous = "Il1O0o"
)

// Options choose the length and the kinds of characters.
type Options struct {
	Length                        int
	Lower, Upper, Digits, Symbols bool
	NoAmbiguous                   bool
}

// Sets returns the enabled character sets.
func (o Options) Sets() []string {
	var sets []string
	add := func(on bool, set string) {
		if !on {
			return
		}
		if o.NoAmbiguous {
			set = strings.Map(func(r rune) rune {
				if strings.ContainsRune(Ambiguous, r) {
					return -1
				}
				return r
			}, set)
		}
		sets = append(sets, set)
	}
	add(o.Lower, Lower)
	add(o.Upper, Upper)
	add(o.Digits, Digits)
	add(o.Symbols, Symbols)
	return sets
}

// Validate checks the options.
func (o Options) Validate() error {
	sets := o.Sets()
	if len(sets) == 0 {
		return errors.New("choose at least one kind of character")
	}
	if o.Length < 4 || o.Length > 256 {
		return errors.New("the length must be between 4 and 256")
	}
	if o.Length < len(sets) {
		return fmt.Errorf("the length must be at least %d to include every chosen kind", len(sets))
	}
	return nil
}

// Bits estimates the strength: length × log2(number of possible characters).
func (o Options) Bits() float64 {
	return float64(o.Length) * math.Log2(float64(len(strings.Join(o.Sets(), ""))))
}

func randIndex(rnd io.Reader, n int) (int, error) {
	v, err := rand.Int(rnd, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// Generate makes one password: one character of every chosen kind, the rest from all of them,
// then shuffled. rnd is the random source (crypto/rand.Reader in the binary).
func Generate(o Options, rnd io.Reader) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	sets := o.Sets()
	all := strings.Join(sets, "")
	out := make([]byte, 0, o.Length)
	for _, set := range sets {
		i, err := randIndex(rnd, len(set))
		if err != nil {
			return "", err
		}
		out = append(out, set[i])
	}
	for len(out) < o.Length {
		i, err := randIndex(rnd, len(all))
		if err != nil {
			return "", err
		}
		out = append(out, all[i])
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := randIndex(rnd, i+1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	length := fs.Int("length", 16, "")
	count := fs.Int("count", 1, "")
	noUpper := fs.Bool("no-upper", false, "")
	noLower := fs.Bool("no-lower", false, "")
	noDigits := fs.Bool("no-digits", false, "")
	noSymbols := fs.Bool("no-symbols", false, "")
	noAmbiguous := fs.Bool("no-ambiguous", false, "")
	strength := fs.Bool("strength", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *count < 1 || *count > 100 {
		return errors.New("the count must be between 1 and 100")
	}
	o := Options{Length: *length, Lower: !*noLower, Upper: !*noUpper, Digits: !*noDigits, Symbols: !*noSymbols, NoAmbiguous: *noAmbiguous}
	for i := 0; i < *count; i++ {
		p, err := Generate(o, rand.Reader)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, p)
	}
	if *strength {
		fmt.Fprintf(out, "Strength: about %.0f bits\n", o.Bits())
	}
	return nil
}
