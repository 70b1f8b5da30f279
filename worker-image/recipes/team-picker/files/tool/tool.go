// Package tool is the random team picker.
package tool

import (
	crand "crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"math/rand"
	"strings"
)

// Summary is one line shown in --help next to the default action.
const Summary = "split names into random teams or draw winners"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --teams N    number of teams (default 2)
  --size N     people per team instead of a number of teams
  --pick N     draw N random winners instead of making teams
  --seed S     repeatable result for the same seed

Input is the names as arguments (or one comma-separated argument), or one name per line on
standard input.

Examples:
  {name} --teams 3 Ann Ben Cat Dan Eve Fay
  {name} --pick 1 "Ann, Ben, Cat"
  {name} --size 4 < players.txt
`

// Shuffler returns a random index in [0, n).
type Shuffler func(n int) int

// SecureShuffler uses the system's secure random source.
func SecureShuffler(n int) int {
	v, err := crand.Int(crand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

// SeededShuffler gives repeatable results.
func SeededShuffler(seed int64) Shuffler {
	r := rand.New(rand.NewSource(seed))
	return r.Intn
}

// ParseNames splits names on commas and new lines, trims them and drops empty ones.
func ParseNames(parts []string) []string {
	var names []string
	for _, p := range parts {
		for _, n := range strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
			if n = strings.Join(strings.Fields(n), " "); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// Shuffle returns a shuffled copy (Fisher-Yates).
func Shuffle(names []string, rnd Shuffler) []string {
	out := append([]string(nil), names...)
	for i := len(out) - 1; i > 0; i-- {
		j := rnd(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// MakeTeams deals shuffled names into n teams whose sizes differ by at most one.
func MakeTeams(names []string, n int, rnd Shuffler) ([][]string, error) {
	if n < 2 {
		return nil, errors.New("make at least 2 teams")
	}
	if len(names) < n {
		return nil, fmt.Errorf("%d names are not enough for %d teams", len(names), n)
	}
	teams := make([][]string, n)
	for i, name := range Shuffle(names, rnd) {
		teams[i%n] = append(teams[i%n], name)
	}
	return teams, nil
}

// Pick draws k different names.
func Pick(names []string, k int, rnd Shuffler) ([]string, error) {
	if k < 1 || k > len(names) {
		return nil, fmt.Errorf("can draw between 1 and %d names", len(names))
	}
	return Shuffle(names, rnd)[:k], nil
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	teams := fs.Int("teams", 2, "")
	size := fs.Int("size", 0, "")
	pick := fs.Int("pick", 0, "")
	seed := fs.Int64("seed", 0, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names := ParseNames(fs.Args())
	if len(names) == 0 && in != nil {
		data, err := io.ReadAll(io.LimitReader(in, 1<<20))
		if err != nil {
			return err
		}
		names = ParseNames([]string{string(data)})
	}
	if len(names) == 0 {
		return errors.New("give the names as arguments or one per line on standard input")
	}
	if len(names) > 10000 {
		return errors.New("at most 10000 names")
	}
	rnd := Shuffler(SecureShuffler)
	seeded := false
	fs.Visit(func(f *flag.Flag) { seeded = seeded || f.Name == "seed" })
	if seeded {
		rnd = SeededShuffler(*seed)
	}
	if *pick > 0 {
		winners, err := Pick(names, *pick, rnd)
		if err != nil {
			return err
		}
		label := "Winner:"
		if len(winners) > 1 {
			label = "Winners:"
		}
		_, err = fmt.Fprintln(out, label, strings.Join(winners, ", "))
		return err
	}
	n := *teams
	if *size > 0 {
		n = (len(names) + *size - 1) / *size
		if n < 2 {
			n = 2
		}
	}
	result, err := MakeTeams(names, n, rnd)
	if err != nil {
		return err
	}
	for i, team := range result {
		fmt.Fprintf(out, "Team %d: %s\n", i+1, strings.Join(team, ", "))
	}
	return nil
}
