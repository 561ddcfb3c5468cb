package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the report for a terminal: every case, then the failures grouped by
// cause (one defect once, with the cases it failed and what one of them saw), the known
// deviations and the skips, and the summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tLEVEL\tCASE\tCLAUSE")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", resultWord[res.Status], res.Level, res.ID, res.Clause)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Causes) > 0 {
		fmt.Fprintf(w, "\n%d failing, by cause:\n", r.Failed+r.Errors)
		for _, g := range r.Causes {
			fmt.Fprintf(w, "\n%s %s (%d):\n    cases: %s\n    %s\n", g.Level, g.Cause, len(g.Cases), strings.Join(g.Cases, ", "), g.Example)
		}
	}
	for _, status := range []string{StatusKnown, StatusSkip} {
		first := true
		for _, res := range r.Results {
			if res.Status != status {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n%s:\n", map[string]string{StatusKnown: "known deviations of " + r.Profile, StatusSkip: "skipped"}[status])
				first = false
			}
			note := res.Message
			if status == StatusKnown {
				note = res.Known
			}
			fmt.Fprintf(w, "    %s: %s\n", res.ID, note)
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", r.Summary())
	return err
}

var resultWord = map[string]string{StatusPass: "ok", StatusFail: "FAIL", StatusError: "ERROR", StatusKnown: "known", StatusSkip: "skip"}

// Summary is one line an operator can paste: the server, the counts, and how many
// distinct causes the failures come from.
func (r *Report) Summary() string {
	must := 0
	for _, g := range r.Causes {
		if g.Level == Must {
			must++
		}
	}
	s := fmt.Sprintf("%s: %d cases, %d passed, %d failed, %d errors", r.Server, len(r.Results), r.Passed, r.Failed, r.Errors)
	if len(r.Causes) > 0 {
		s += fmt.Sprintf(" (%d causes, %d of them MUST)", len(r.Causes), must)
	}
	if r.Profile != "" {
		s += fmt.Sprintf(", %d known of %s", r.Known, r.Profile)
	}
	return s + fmt.Sprintf(", %d skipped (syncctl conformance, %s)", r.Skipped, r.Started.UTC().Format("2006-01-02"))
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML, the shape CI systems read.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      float64     `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one test case per conformance case, with
// the level and clause in its class name.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "syncstorage-conformance " + r.Server, Tests: len(r.Results), Failures: r.Failed, Errors: r.Errors, Skipped: r.Skipped,
		Timestamp: r.Started.UTC().Format(time.RFC3339)}
	for _, res := range r.Results {
		c := junitCase{Name: res.ID, Classname: string(res.Level) + " " + res.Clause, Time: res.Duration.Seconds()}
		s.Time += c.Time
		switch res.Status {
		case StatusFail:
			c.Failure = &junitMessage{Message: res.Cause + ": " + res.Message, Text: res.Message}
		case StatusError:
			c.Error = &junitMessage{Message: res.Cause, Text: res.Message}
		case StatusSkip:
			c.Skipped = &junitMessage{Message: res.Message}
		case StatusKnown:
			c.Skipped = &junitMessage{Message: "known deviation of " + r.Profile + ": " + res.Known + ": " + res.Message}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
