/*
 * ascii.h - the byte classes of HTTP, and ASCII case, written once.
 *
 * Shared by every stage that reads or writes protocol text: the parser
 * (http*.c), the response writer (response.c), the logs (log.c) and the
 * settings (config.c, bind.c).
 * Owns: the character classes of RFC 9110 and RFC 5234 (tchar, VCHAR,
 * obs-text, field-vchar, CTL, DIGIT, ALPHA, HEXDIG, whitespace), ASCII case
 * folding, and case-insensitive comparison of protocol words.
 * Does not own: what a class is used for (each caller says which rule it
 * applies), or any text that is not protocol text.
 *
 * Why not <ctype.h> and strncasecmp: both follow the C locale, and a worker
 * runs Python, which sets LC_CTYPE from the environment; an app may change
 * it again.  Under a Turkish locale "I" and "i" are not a case pair, under
 * a Latin-1 one 0xC0 and 0xE0 are, and isspace() may take NBSP.  HTTP's
 * words are ASCII in every locale (RFC 9110 section 5.1: field names are
 * case-insensitive ASCII tokens), so these functions never look at it.
 *
 * Every function is static inline: the parser calls them for every byte,
 * and each file should compile them into its own loops.
 */
#ifndef GREENHORN_ASCII_H
#define GREENHORN_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* DIGIT = %x30-39 (RFC 5234 appendix B.1). */
static inline bool ascii_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ALPHA = %x41-5A / %x61-7A (RFC 5234 appendix B.1). */
static inline bool ascii_is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* The value of a HEXDIG (RFC 5234 appendix B.1, either case as RFC 9112
 * section 7.1 and RFC 3986 section 2.1 read it), or -1 for another byte. */
static inline int ascii_hex_value(unsigned char c)
{
    if (ascii_is_digit(c))
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* tchar (RFC 9110 section 5.6.2): the bytes of a token, such as a method or
 * a field name. */
static inline bool ascii_is_tchar(unsigned char c)
{
    if (ascii_is_alpha(c) || ascii_is_digit(c))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* VCHAR = %x21-7E, the visible ASCII bytes (RFC 5234 appendix B.1). */
static inline bool ascii_is_vchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e;
}

/* obs-text = %x80-FF (RFC 9110 section 5.6.4): allowed in field values and
 * reason phrases for compatibility, meaning nothing in particular. */
static inline bool ascii_is_obs_text(unsigned char c)
{
    return c >= 0x80;
}

/* field-vchar = VCHAR / obs-text (RFC 9110 section 5.5). */
static inline bool ascii_is_field_vchar(unsigned char c)
{
    return ascii_is_vchar(c) || ascii_is_obs_text(c);
}

/* Only SP and HTAB are whitespace in HTTP (RFC 9110 section 5.6.3, OWS);
 * never VT, FF, NEL (0x85) or NBSP (0xA0), which other parsers strip. */
static inline bool ascii_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* CTL = %x00-1F / %x7F (RFC 5234 appendix B.1). */
static inline bool ascii_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* A byte a field value may hold: field-vchar, SP or HTAB (RFC 9110 section
 * 5.5); the same bytes make a reason-phrase (RFC 9112 section 4).  Every
 * other control byte, NUL, CR, LF and DEL included, could end or split a
 * field downstream. */
static inline bool ascii_is_field_byte(unsigned char c)
{
    return ascii_is_field_vchar(c) || ascii_is_ws(c);
}

/* ASCII case folding: only A-Z and a-z change. */
static inline unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline unsigned char ascii_upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - ('a' - 'A')) : c;
}

/*
 * ascii_casecmp - strncasecmp without the locale: compare at most n bytes
 * of a and b, ASCII letters folded, stopping after a NUL.  Returns <0, 0
 * or >0 as the first difference orders (lower-cased bytes, unsigned).
 */
static inline int ascii_casecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = ascii_lower((unsigned char)a[i]), cb = ascii_lower((unsigned char)b[i]);
        if (ca != cb || ca == '\0')
            return ca - cb;
    }
    return 0;
}

/* ascii_caseeq - is the view s[0..n) the word `word` (NUL-terminated),
 * ignoring ASCII case?  s need not be NUL-terminated. */
static inline bool ascii_caseeq(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n) /* folded away for a literal word */
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)word[i]))
            return false;
    return true;
}

#endif
