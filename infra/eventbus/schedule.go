package eventbus

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// schedule is a parsed schedule expression. next returns the first firing
// time strictly after t, and false when there is none.
type schedule interface {
	next(t time.Time) (time.Time, bool)
}

// parseSchedule parses an EventBridge schedule expression: rate(...) or
// cron(...). Times are UTC.
func parseSchedule(expr string) (schedule, error) {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(expr[len("rate(") : len(expr)-1])
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expr[len("cron(") : len(expr)-1])
	}
	return nil, fmt.Errorf("schedule %q: want rate(...) or cron(...)", expr)
}

// rate fires every interval, counted from the time the bus starts.
type rate time.Duration

func (r rate) next(t time.Time) (time.Time, bool) { return t.Add(time.Duration(r)), true }

// parseRate parses "N unit". As in AWS, a value of 1 takes the singular
// unit and anything larger the plural.
func parseRate(s string) (rate, error) {
	value, unit, ok := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.Atoi(value)
	if !ok || err != nil || n < 1 {
		return 0, fmt.Errorf("rate(%s): want a positive whole number and a unit", s)
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	base, plural := strings.CutSuffix(unit, "s")
	d, known := units[base]
	if !known {
		return 0, fmt.Errorf("rate(%s): unit must be minute(s), hour(s) or day(s)", s)
	}
	if plural != (n > 1) {
		return 0, fmt.Errorf("rate(%s): use the singular unit for 1 and the plural otherwise", s)
	}
	return rate(time.Duration(n) * d), nil
}

// cron is a parsed six-field EventBridge cron expression:
// minutes hours day-of-month month day-of-week year.
type cron struct {
	minutes, hours, months, years set
	// day reports whether a date matches the day-of-month or day-of-week
	// field, whichever is not "?".
	day func(t time.Time) bool
}

// set holds the allowed values of a field, indexed by value.
type set []bool

type fieldSpec struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var (
	minuteField = fieldSpec{name: "minutes", min: 0, max: 59}
	hourField   = fieldSpec{name: "hours", min: 0, max: 23}
	domField    = fieldSpec{name: "day-of-month", min: 1, max: 31}
	monthField  = fieldSpec{name: "month", min: 1, max: 12,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField  = fieldSpec{name: "day-of-week", min: 1, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	yearField = fieldSpec{name: "year", min: 1970, max: 2199}
)

// parseCron parses the six fields of cron(...). Supported: lists (,),
// ranges (-), increments (/), * and ?, month and weekday names, and in the
// day fields L (last), W (nearest weekday) and # (nth weekday of the month).
// Exactly one of day-of-month and day-of-week must be "?", as AWS requires.
func parseCron(s string) (*cron, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron(%s): want 6 fields, got %d", s, len(f))
	}
	c := &cron{}
	var err error
	if c.minutes, err = minuteField.parse(f[0]); err != nil {
		return nil, fmt.Errorf("cron(%s): %w", s, err)
	}
	if c.hours, err = hourField.parse(f[1]); err != nil {
		return nil, fmt.Errorf("cron(%s): %w", s, err)
	}
	if c.months, err = monthField.parse(f[3]); err != nil {
		return nil, fmt.Errorf("cron(%s): %w", s, err)
	}
	if c.years, err = yearField.parse(f[5]); err != nil {
		return nil, fmt.Errorf("cron(%s): %w", s, err)
	}
	switch dom, dow := f[2], f[4]; {
	case (dom == "?") == (dow == "?"):
		return nil, fmt.Errorf("cron(%s): exactly one of day-of-month and day-of-week must be ?", s)
	case dow == "?":
		c.day, err = parseDayOfMonth(dom)
	default:
		c.day, err = parseDayOfWeek(dow)
	}
	if err != nil {
		return nil, fmt.Errorf("cron(%s): %w", s, err)
	}
	return c, nil
}

// parse reads a field made of comma-separated items: *, a value, a range
// a-b, each optionally followed by /step.
func (fs fieldSpec) parse(s string) (set, error) {
	out := make(set, fs.max+1)
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, step, err := fs.item(item)
		if err != nil {
			return nil, err
		}
		for v := lo; v <= hi; v += step {
			out[v] = true
		}
	}
	return out, nil
}

func (fs fieldSpec) item(item string) (lo, hi, step int, err error) {
	body, stepText, hasStep := strings.Cut(item, "/")
	step = 1
	if hasStep {
		if step, err = strconv.Atoi(stepText); err != nil || step < 1 {
			return 0, 0, 0, fmt.Errorf("%s: bad increment in %q", fs.name, item)
		}
	}
	switch {
	case body == "*":
		lo, hi = fs.min, fs.max
	case strings.Contains(body, "-"):
		a, b, _ := strings.Cut(body, "-")
		if lo, err = fs.value(a); err != nil {
			return 0, 0, 0, err
		}
		if hi, err = fs.value(b); err != nil {
			return 0, 0, 0, err
		}
		if lo > hi {
			return 0, 0, 0, fmt.Errorf("%s: range %q runs backwards", fs.name, item)
		}
	default:
		if lo, err = fs.value(body); err != nil {
			return 0, 0, 0, err
		}
		// "5/15" means from 5 every 15; a bare value is just itself.
		hi = lo
		if hasStep {
			hi = fs.max
		}
	}
	return lo, hi, step, nil
}

func (fs fieldSpec) value(s string) (int, error) {
	for i, n := range fs.names {
		if strings.EqualFold(s, n) {
			return fs.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < fs.min || v > fs.max {
		return 0, fmt.Errorf("%s: %q is not between %d and %d", fs.name, s, fs.min, fs.max)
	}
	return v, nil
}

// parseDayOfMonth reads the day-of-month field: the generic items plus L
// (last day), LW (last weekday) and nW (the weekday nearest day n, within
// the month).
func parseDayOfMonth(s string) (func(time.Time) bool, error) {
	var plain []string
	var special []func(time.Time) bool
	for item := range strings.SplitSeq(s, ",") {
		switch {
		case item == "L":
			special = append(special, func(t time.Time) bool { return t.Day() == daysIn(t) })
		case item == "LW":
			special = append(special, func(t time.Time) bool { return t.Day() == nearestWeekday(t, daysIn(t)) })
		case strings.HasSuffix(item, "W"):
			n, err := domField.value(strings.TrimSuffix(item, "W"))
			if err != nil {
				return nil, err
			}
			special = append(special, func(t time.Time) bool { return t.Day() == nearestWeekday(t, n) })
		default:
			plain = append(plain, item)
		}
	}
	days := make(set, domField.max+1)
	if len(plain) > 0 {
		var err error
		if days, err = domField.parse(strings.Join(plain, ",")); err != nil {
			return nil, err
		}
	}
	return func(t time.Time) bool {
		return days[t.Day()] || anyTrue(special, t)
	}, nil
}

// parseDayOfWeek reads the day-of-week field (1 or SUN is Sunday): the
// generic items plus L (Saturday), nL (the last weekday n of the month) and
// n#k (the k-th weekday n of the month).
func parseDayOfWeek(s string) (func(time.Time) bool, error) {
	var plain []string
	var special []func(time.Time) bool
	for item := range strings.SplitSeq(s, ",") {
		switch {
		case item == "L":
			plain = append(plain, "7")
		case strings.HasSuffix(item, "L"):
			wd, err := dowField.value(strings.TrimSuffix(item, "L"))
			if err != nil {
				return nil, err
			}
			special = append(special, func(t time.Time) bool {
				return weekday(t) == wd && t.Day()+7 > daysIn(t)
			})
		case strings.Contains(item, "#"):
			a, b, _ := strings.Cut(item, "#")
			wd, err := dowField.value(a)
			if err != nil {
				return nil, err
			}
			k, err := strconv.Atoi(b)
			if err != nil || k < 1 || k > 5 {
				return nil, fmt.Errorf("day-of-week: bad occurrence in %q", item)
			}
			special = append(special, func(t time.Time) bool {
				return weekday(t) == wd && (t.Day()-1)/7+1 == k
			})
		default:
			plain = append(plain, item)
		}
	}
	days := make(set, dowField.max+1)
	if len(plain) > 0 {
		var err error
		if days, err = dowField.parse(strings.Join(plain, ",")); err != nil {
			return nil, err
		}
	}
	return func(t time.Time) bool {
		return days[weekday(t)] || anyTrue(special, t)
	}, nil
}

// next finds the next minute that matches every field, skipping whole
// years, months, days and hours that cannot match, so that it takes at most
// a few thousand steps.
func (c *cron) next(after time.Time) (time.Time, bool) {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	for t.Year() <= yearField.max {
		switch {
		case !c.years[t.Year()]:
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
		case !c.months[int(t.Month())]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.day(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case !c.hours[t.Hour()]:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, time.UTC)
		case !c.minutes[t.Minute()]:
			t = t.Add(time.Minute)
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

// weekday numbers days as AWS cron does: 1 is Sunday, 7 is Saturday.
func weekday(t time.Time) int { return int(t.Weekday()) + 1 }

func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nearestWeekday returns the day of t's month that is the weekday nearest
// to day n, without leaving the month (n is clamped to the month's length).
func nearestWeekday(t time.Time, n int) int {
	last := daysIn(t)
	n = min(n, last)
	switch time.Date(t.Year(), t.Month(), n, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3 // Monday the 3rd: Friday would be in the month before.
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2 // Friday: Monday would be in the next month.
		}
		return n + 1
	}
	return n
}

func anyTrue(fs []func(time.Time) bool, t time.Time) bool {
	for _, f := range fs {
		if f(t) {
			return true
		}
	}
	return false
}
