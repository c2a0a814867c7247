// json.cpp - a small JSON value type with a strict recursive-descent parser and
// a canonical serializer (object keys sorted, shortest round-trip numbers).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "demo/cxxapi.h"
#include "demo/strutil.h"

namespace demo {
namespace {

class Json;
using Array = std::vector<Json>;
using Object = std::map<std::string, Json>;

class Json {
public:
    using Storage = std::variant<std::nullptr_t, bool, double, std::string, Array, Object>;

    Json() : v_(nullptr) {}
    Json(std::nullptr_t) : v_(nullptr) {}   // NOLINT
    Json(bool b) : v_(b) {}                  // NOLINT
    Json(double d) : v_(d) {}                // NOLINT
    Json(int i) : v_(static_cast<double>(i)) {}  // NOLINT
    Json(const char *s) : v_(std::string(s)) {}  // NOLINT
    Json(std::string s) : v_(std::move(s)) {}    // NOLINT
    Json(Array a) : v_(std::move(a)) {}          // NOLINT
    Json(Object o) : v_(std::move(o)) {}         // NOLINT

    template <typename T>
    bool is() const { return std::holds_alternative<T>(v_); }
    template <typename T>
    const T &as() const { return std::get<T>(v_); }

    const Json &operator[](const std::string &key) const { return as<Object>().at(key); }
    const Json &operator[](std::size_t i) const { return as<Array>().at(i); }

    friend bool operator==(const Json &a, const Json &b) { return a.v_ == b.v_; }

    std::string dump() const
    {
        std::string out;
        dump_to(out);
        return out;
    }

private:
    static void dump_string(std::string &out, const std::string &s)
    {
        out += '"';
        for (unsigned char ch : s) {
            switch (ch) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (ch < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                    out += buf;
                } else {
                    out += static_cast<char>(ch);
                }
            }
        }
        out += '"';
    }

    void dump_to(std::string &out) const
    {
        std::visit(
            [&](const auto &x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::nullptr_t>) {
                    out += "null";
                } else if constexpr (std::is_same_v<T, bool>) {
                    out += x ? "true" : "false";
                } else if constexpr (std::is_same_v<T, double>) {
                    char buf[32];
                    auto res = std::to_chars(buf, buf + sizeof buf, x);  // shortest form
                    out.append(buf, res.ptr);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    dump_string(out, x);
                } else if constexpr (std::is_same_v<T, Array>) {
                    out += '[';
                    for (std::size_t i = 0; i < x.size(); i++) {
                        if (i)
                            out += ',';
                        x[i].dump_to(out);
                    }
                    out += ']';
                } else {
                    out += '{';
                    bool first = true;
                    for (const auto &[k, v] : x) {
                        if (!first)
                            out += ',';
                        first = false;
                        dump_string(out, k);
                        out += ':';
                        v.dump_to(out);
                    }
                    out += '}';
                }
            },
            v_);
    }

    Storage v_;
};

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Json parse()
    {
        Json v = value(0);
        ws();
        if (i_ != s_.size())
            fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string &what) const
    {
        throw std::runtime_error(what + " at " + std::to_string(i_));
    }

    void ws()
    {
        while (i_ < s_.size() && std::string_view(" \n\t\r").find(s_[i_]) != std::string_view::npos)
            i_++;
    }

    bool eat(char ch)
    {
        ws();
        if (i_ < s_.size() && s_[i_] == ch) {
            i_++;
            return true;
        }
        return false;
    }

    void expect(char ch)
    {
        if (!eat(ch))
            fail(std::string("expected '") + ch + "'");
    }

    bool literal(std::string_view word)
    {
        if (s_.substr(i_, word.size()) == word) {
            i_ += word.size();
            return true;
        }
        return false;
    }

    Json value(int depth)
    {
        if (depth > 64)
            fail("nesting too deep");
        ws();
        if (i_ >= s_.size())
            fail("unexpected end");
        char ch = s_[i_];
        if (ch == '{')
            return object(depth);
        if (ch == '[')
            return array(depth);
        if (ch == '"')
            return Json(string());
        if (literal("null"))
            return Json(nullptr);
        if (literal("true"))
            return Json(true);
        if (literal("false"))
            return Json(false);
        return Json(number());
    }

    Json object(int depth)
    {
        Object o;
        expect('{');
        if (eat('}'))
            return Json(std::move(o));
        do {
            ws();
            if (i_ >= s_.size() || s_[i_] != '"')
                fail("expected a key");
            std::string key = string();
            expect(':');
            o[key] = value(depth + 1);
        } while (eat(','));
        expect('}');
        return Json(std::move(o));
    }

    Json array(int depth)
    {
        Array a;
        expect('[');
        if (eat(']'))
            return Json(std::move(a));
        do
            a.push_back(value(depth + 1));
        while (eat(','));
        expect(']');
        return Json(std::move(a));
    }

    std::string string()
    {
        std::string out;
        i_++;  // opening quote
        while (i_ < s_.size() && s_[i_] != '"') {
            char ch = s_[i_++];
            if (ch != '\\') {
                out += ch;
                continue;
            }
            if (i_ >= s_.size())
                fail("bad escape");
            char e = s_[i_++];
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case '/':
            case '\\':
            case '"':
                out += e;
                break;
            case 'u': {
                std::uint32_t cp = 0;
                auto res = std::from_chars(s_.data() + i_, s_.data() + std::min(i_ + 4, s_.size()),
                                           cp, 16);
                if (res.ptr != s_.data() + i_ + 4)
                    fail("bad \\u escape");
                i_ += 4;
                char buf[4];
                std::size_t n = utf8_encode(cp, buf);  // the C UTF-8 helper
                if (!n)
                    fail("bad code point");
                out.append(buf, n);
                break;
            }
            default:
                fail("bad escape");
            }
        }
        if (i_ >= s_.size())
            fail("unterminated string");
        i_++;
        return out;
    }

    double number()
    {
        std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-')
            i_++;
        const std::string_view number_chars("0123456789.eE+-");
        while (i_ < s_.size() && number_chars.find(s_[i_]) != std::string_view::npos)
            i_++;
        double d = 0;
        auto res = std::from_chars(s_.data() + start, s_.data() + i_, d);
        if (res.ec != std::errc() || res.ptr != s_.data() + i_ || start == i_)
            fail("bad number");
        return d;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

Json parse(std::string_view s)
{
    return Parser(s).parse();
}

std::string parse_error(std::string_view s)
{
    try {
        parse(s);
    } catch (const std::runtime_error &e) {
        return e.what();
    }
    return "";
}

}  // namespace
}  // namespace demo

extern "C" void selftest_json(demo_check *c)
{
    using demo::Json;
    const char *src = R"({"name": "demo", "tus": 52, "langs": ["c", "c++"],
                         "ok": true, "ratio": 0.1, "nested": {"z": null, "a": [1, 2.5e3, -3]},
                         "esc": "tab\there \"q\" \u00e9"})";
    Json doc = demo::parse(src);
    CHECK_STR(c, doc["name"].as<std::string>().c_str(), "demo");
    CHECK_NEAR(c, doc["tus"].as<double>(), 52.0, 0.0);
    CHECK_STR(c, doc["langs"][1].as<std::string>().c_str(), "c++");
    CHECK(c, doc["nested"]["z"].is<std::nullptr_t>());
    CHECK_STR(c, doc["esc"].as<std::string>().c_str(), "tab\there \"q\" \xc3\xa9");
    std::string canon = doc.dump();
    CHECK_STR(c, canon.c_str(),
              "{\"esc\":\"tab\\there \\\"q\\\" \xc3\xa9\",\"langs\":[\"c\",\"c++\"],"
              "\"name\":\"demo\",\"nested\":{\"a\":[1,2500,-3],\"z\":null},"
              "\"ok\":true,\"ratio\":0.1,\"tus\":52}");
    CHECK(c, demo::parse(canon) == doc);
    CHECK_STR(c, demo::parse("[]").dump().c_str(), "[]");
    CHECK_STR(c, demo::parse(" {\"k\" : [ {} , [ ] ] } ").dump().c_str(), "{\"k\":[{},[]]}");
    static const struct {
        const char *src, *error;
    } bad[] = {
        {"[1, 2", "expected ']' at 5"},
        {"{\"a\" 1}", "expected ':' at 5"},
        {"[1] x", "trailing characters at 4"},
        {"\"abc", "unterminated string at 4"},
        {"-", "bad number at 1"},
        {"\"\\ud800\"", "bad code point at 7"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
         "nesting too deep at 65"},
    };
    for (const auto &b : bad)
        CHECK_STR(c, demo::parse_error(b.src).c_str(), b.error);
}
