/*
 * response_text.c - the fixed texts of a response: error pages, reason
 * phrases and the Date.
 *
 * Stage 8, respond (Gunicorn counterpart: write_error and http_date in
 * gunicorn/util.py; the reasons handle_error in gunicorn/workers/base.py
 * writes out one by one).
 * Owns: the canned error response (response_send_error) and its HTML page,
 * the reason phrases of RFC 9110 section 15 (response_reason), and the
 * IMF-fixdate of the Date header, cached per second (response_date).
 * Does not own: the application's responses (response.c frames and writes
 * them, and calls response_date for their Date), or the socket: the one
 * write here goes through conn_sendv (conn.c).
 */
#include "response_internal.h"
#include "conn.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

/* ---- canned error pages ---------------------------------------------- */

/* What html.escape(s, quote=True) replaces, as Gunicorn's write_error uses it. */
static const char *html_entity(char c)
{
    static const char specials[] = "&<>\"'";
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"};
    const char *hit = c != '\0' ? strchr(specials, c) : NULL;
    return hit != NULL ? entities[hit - specials] : NULL;
}

/* Escape s into out (when not NULL); returns the escaped length either way. */
static size_t html_escape(char *out, const char *s)
{
    size_t len = 0;
    for (; *s != '\0'; s++) {
        const char *entity = html_entity(*s);
        size_t n = entity != NULL ? strlen(entity) : 1;
        if (out != NULL)
            memcpy(out + len, entity != NULL ? entity : s, n);
        len += n;
    }
    return len;
}

/* Copy s to out + at (when out is not NULL); returns the length so far. */
static size_t page_piece(char *out, size_t at, const char *s)
{
    size_t n = strlen(s);
    if (out != NULL)
        memcpy(out + at, s, n);
    return at + n;
}

/*
 * The page, measured (out NULL) or written: Gunicorn's error page on one
 * line.  The title comes from our own table; only the reason text can hold
 * markup, so only it is escaped.
 */
static size_t error_page(char *out, const char *title, const char *reason)
{
    size_t len = page_piece(out, 0, "<html><head><title>");
    len = page_piece(out, len, title);
    len = page_piece(out, len, "</title></head><body><h1><p>");
    len = page_piece(out, len, title);
    len = page_piece(out, len, "</p></h1>");
    len += html_escape(out != NULL ? out + len : NULL, reason);
    return page_piece(out, len, "</body></html>");
}

int response_send_error(int fd, int version_minor, int status, const char *reason)
{
    char head[320];
    char stack_page[1024];
    char *heap = NULL;
    char *page = stack_page;
    const char *title = response_reason(status);
    int ret = -1;
    if (status < 100 || status > 999) {
        errno = EINVAL;
        goto fail;
    }
    if (reason == NULL)
        reason = "";
    /* An entity is at most 6 bytes: bound the text so the sizes cannot wrap. */
    if (strlen(reason) > (SIZE_MAX - 256) / 6) {
        errno = ENOMEM;
        goto fail;
    }
    size_t page_len = error_page(NULL, title, reason);
    if (page_len > sizeof stack_page) {
        heap = malloc(page_len);
        if (heap == NULL)
            goto fail;
        page = heap;
    }
    error_page(page, title, reason);
    int head_len =
        snprintf(head, sizeof head,
                 "HTTP/1.%c %d %s\r\nServer: greenhorn\r\nDate: %s\r\n"
                 "Connection: close\r\nContent-Type: text/html\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 response_minor_digit(version_minor), status, title, response_date(), page_len);
    if (head_len < 0 || (size_t)head_len >= sizeof head) {
        errno = EOVERFLOW;
        goto fail;
    }
    struct iovec iov[2] = {{head, (size_t)head_len}, {page, page_len}};
    /* The connection closes next: MSG_MORE lets the page share the FIN's packet. */
    ret = conn_sendv(fd, iov, 2, MSG_MORE);
fail:
    free(heap);
    return ret;
}

/*
 * RFC 9110 section 15 (and RFC 6585, 8297, 8470 for 428, 429, 431, 103,
 * 425), one array per class indexed by status % 100; NULL marks a code that
 * is unassigned or unused (306, 418).
 */
static const char *const reasons_1xx[] = {"Continue", "Switching Protocols", "Processing",
                                          "Early Hints"};
static const char *const reasons_2xx[] = {
    "OK",         "Created",       "Accepted",       "Non-Authoritative Information",
    "No Content", "Reset Content", "Partial Content"};
static const char *const reasons_3xx[] = {
    "Multiple Choices",  "Moved Permanently", "Found", "See Other",
    "Not Modified",      "Use Proxy",         NULL,    "Temporary Redirect",
    "Permanent Redirect"};
static const char *const reasons_4xx[] = {"Bad Request",
                                          "Unauthorized",
                                          "Payment Required",
                                          "Forbidden",
                                          "Not Found",
                                          "Method Not Allowed",
                                          "Not Acceptable",
                                          "Proxy Authentication Required",
                                          "Request Timeout",
                                          "Conflict",
                                          "Gone",
                                          "Length Required",
                                          "Precondition Failed",
                                          "Content Too Large",
                                          "URI Too Long",
                                          "Unsupported Media Type",
                                          "Range Not Satisfiable",
                                          "Expectation Failed",
                                          NULL,
                                          NULL,
                                          NULL,
                                          "Misdirected Request",
                                          "Unprocessable Content",
                                          "Locked",
                                          "Failed Dependency",
                                          "Too Early",
                                          "Upgrade Required",
                                          NULL,
                                          "Precondition Required",
                                          "Too Many Requests",
                                          NULL,
                                          "Request Header Fields Too Large"};
static const char *const reasons_5xx[] = {"Internal Server Error", "Not Implemented",
                                          "Bad Gateway",           "Service Unavailable",
                                          "Gateway Timeout",       "HTTP Version Not Supported"};

static const struct {
    const char *const *names;
    size_t count;
    const char *class_name; /* RFC 9110 section 15: the class, for codes not listed */
} reason_classes[] = {
    {reasons_1xx, sizeof reasons_1xx / sizeof reasons_1xx[0], "Informational"},
    {reasons_2xx, sizeof reasons_2xx / sizeof reasons_2xx[0], "Successful"},
    {reasons_3xx, sizeof reasons_3xx / sizeof reasons_3xx[0], "Redirection"},
    {reasons_4xx, sizeof reasons_4xx / sizeof reasons_4xx[0], "Client Error"},
    {reasons_5xx, sizeof reasons_5xx / sizeof reasons_5xx[0], "Server Error"},
};

const char *response_reason(int status)
{
    if (status < 100 || status > 599)
        return "Unknown";
    size_t index = (size_t)(status % 100);
    const char *const *names = reason_classes[status / 100 - 1].names;
    if (index < reason_classes[status / 100 - 1].count && names[index] != NULL)
        return names[index];
    return reason_classes[status / 100 - 1].class_name;
}

/* ---- Date ------------------------------------------------------------- */

int response_format_date(time_t t, char *out)
{
    /* Fixed English names: strftime's %a and %b follow the locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    char buf[64];
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        errno = EOVERFLOW;
        return -1;
    }
    int n = snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    if (n != RESPONSE_DATE_LEN) {
        errno = EOVERFLOW;
        return -1;
    }
    memcpy(out, buf, RESPONSE_DATE_LEN + 1);
    return 0;
}

const char *response_date(void)
{
    /* Per thread, so a threaded caller never reads a half-written date. */
    static _Thread_local time_t cached_at = (time_t)-1;
    static _Thread_local char cached[RESPONSE_DATE_LEN + 1] = "Thu, 01 Jan 1970 00:00:00 GMT";
    time_t now = time(NULL);
    if (now != cached_at && response_format_date(now, cached) == 0)
        cached_at = now;
    return cached;
}
