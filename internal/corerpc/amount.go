package corerpc

import (
	"errors"
	"strconv"
	"strings"
)

const (
	// satPerBTC is the number of satoshis in one bitcoin.
	satPerBTC = 100_000_000
	// maxMoneySat is the 21 million BTC no amount can exceed.
	maxMoneySat = 21_000_000 * satPerBTC
	// btcDecimals is the number of decimals of a BTC amount.
	btcDecimals = 8
)

// btcToSat converts the JSON text of a BTC amount, such as 0.00001000, to satoshis without
// going through floating point. It accepts plain non-negative decimals with at most eight
// decimals, up to 21 million BTC; Bitcoin Core writes amounts that way.
func btcToSat(text string) (int64, error) {
	whole, frac, hasDot := strings.Cut(text, ".")
	if !isDigits(whole) || hasDot && !isDigits(frac) {
		return 0, errors.New("not a plain non-negative decimal")
	}
	if len(frac) > btcDecimals {
		return 0, errors.New("more than 8 decimals")
	}
	if len(whole) > 8 {
		return 0, errors.New("more than 21 million BTC")
	}

	btc, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	sat := int64(0)
	if frac != "" {
		padded := frac + strings.Repeat("0", btcDecimals-len(frac))
		if sat, err = strconv.ParseInt(padded, 10, 64); err != nil {
			return 0, err
		}
	}
	sat += btc * satPerBTC
	if sat > maxMoneySat {
		return 0, errors.New("more than 21 million BTC")
	}
	return sat, nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
