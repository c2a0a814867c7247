// bigint.cpp - arbitrary-precision integer arithmetic (schoolbook algorithms).
#include "demo/cxx/bigint.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "demo/cxxapi.h"

namespace demo {

BigInt::BigInt(long long v)
{
    neg_ = v < 0;
    // go through unsigned so LLONG_MIN negates correctly
    unsigned long long mag = neg_ ? 0ULL - static_cast<unsigned long long>(v)
                                  : static_cast<unsigned long long>(v);
    while (mag) {
        limbs_.push_back(static_cast<std::uint32_t>(mag % kBase));
        mag /= kBase;
    }
}

BigInt BigInt::parse(const std::string &s)
{
    BigInt r;
    std::size_t start = 0;
    if (!s.empty() && (s[0] == '-' || s[0] == '+'))
        start = 1;
    if (start == s.size() ||
        !std::all_of(s.begin() + static_cast<long>(start), s.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; }))
        throw std::invalid_argument("not an integer: " + s);
    for (std::size_t end = s.size(); end > start;) {
        std::size_t begin = end >= start + 9 ? end - 9 : start;
        r.limbs_.push_back(static_cast<std::uint32_t>(std::stoul(s.substr(begin, end - begin))));
        end = begin;
    }
    r.neg_ = s[0] == '-';
    r.trim();
    return r;
}

void BigInt::trim()
{
    while (!limbs_.empty() && limbs_.back() == 0)
        limbs_.pop_back();
    if (limbs_.empty())
        neg_ = false;
}

std::string BigInt::str() const
{
    if (limbs_.empty())
        return "0";
    std::string out = neg_ ? "-" : "";
    out += std::to_string(limbs_.back());
    for (std::size_t i = limbs_.size() - 1; i-- > 0;) {
        std::string part = std::to_string(limbs_[i]);
        out += std::string(9 - part.size(), '0') + part;
    }
    return out;
}

std::size_t BigInt::digits() const
{
    return limbs_.empty() ? 1 : str().size() - (neg_ ? 1 : 0);
}

int BigInt::cmp_abs(const BigInt &a, const BigInt &b)
{
    if (a.limbs_.size() != b.limbs_.size())
        return a.limbs_.size() < b.limbs_.size() ? -1 : 1;
    for (std::size_t i = a.limbs_.size(); i-- > 0;) {
        if (a.limbs_[i] != b.limbs_[i])
            return a.limbs_[i] < b.limbs_[i] ? -1 : 1;
    }
    return 0;
}

std::vector<std::uint32_t> BigInt::add_abs(const std::vector<std::uint32_t> &a,
                                           const std::vector<std::uint32_t> &b)
{
    std::vector<std::uint32_t> r;
    std::uint32_t carry = 0;
    for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry; i++) {
        std::uint64_t s = carry;
        if (i < a.size())
            s += a[i];
        if (i < b.size())
            s += b[i];
        r.push_back(static_cast<std::uint32_t>(s % kBase));
        carry = static_cast<std::uint32_t>(s / kBase);
    }
    return r;
}

// |a| >= |b| is required
std::vector<std::uint32_t> BigInt::sub_abs(const std::vector<std::uint32_t> &a,
                                           const std::vector<std::uint32_t> &b)
{
    std::vector<std::uint32_t> r(a);
    std::int64_t borrow = 0;
    for (std::size_t i = 0; i < r.size(); i++) {
        std::int64_t d = static_cast<std::int64_t>(r[i]) - borrow - (i < b.size() ? b[i] : 0);
        borrow = d < 0;
        if (d < 0)
            d += kBase;
        r[i] = static_cast<std::uint32_t>(d);
    }
    return r;
}

BigInt BigInt::operator-() const
{
    BigInt r = *this;
    if (!r.is_zero())
        r.neg_ = !r.neg_;
    return r;
}

BigInt operator+(const BigInt &a, const BigInt &b)
{
    BigInt r;
    if (a.neg_ == b.neg_) {
        r.limbs_ = BigInt::add_abs(a.limbs_, b.limbs_);
        r.neg_ = a.neg_;
    } else if (BigInt::cmp_abs(a, b) >= 0) {
        r.limbs_ = BigInt::sub_abs(a.limbs_, b.limbs_);
        r.neg_ = a.neg_;
    } else {
        r.limbs_ = BigInt::sub_abs(b.limbs_, a.limbs_);
        r.neg_ = b.neg_;
    }
    r.trim();
    return r;
}

BigInt operator-(const BigInt &a, const BigInt &b)
{
    return a + (-b);
}

BigInt operator*(const BigInt &a, const BigInt &b)
{
    BigInt r;
    if (a.is_zero() || b.is_zero())
        return r;
    std::vector<std::uint64_t> acc(a.limbs_.size() + b.limbs_.size() + 1, 0);
    for (std::size_t i = 0; i < a.limbs_.size(); i++) {
        std::uint64_t carry = 0;
        for (std::size_t j = 0; j < b.limbs_.size() || carry; j++) {
            std::uint64_t cur = acc[i + j] + carry +
                                (j < b.limbs_.size()
                                     ? static_cast<std::uint64_t>(a.limbs_[i]) * b.limbs_[j]
                                     : 0);
            acc[i + j] = cur % BigInt::kBase;
            carry = cur / BigInt::kBase;
        }
    }
    r.limbs_.assign(acc.begin(), acc.end());
    r.neg_ = a.neg_ != b.neg_;
    r.trim();
    return r;
}

BigInt BigInt::divmod(std::uint32_t d, std::uint32_t *rem) const
{
    if (d == 0)
        throw std::domain_error("division by zero");
    BigInt q;
    q.limbs_.resize(limbs_.size());
    std::uint64_t r = 0;
    for (std::size_t i = limbs_.size(); i-- > 0;) {
        std::uint64_t cur = limbs_[i] + r * kBase;
        q.limbs_[i] = static_cast<std::uint32_t>(cur / d);
        r = cur % d;
    }
    q.neg_ = neg_;
    q.trim();
    if (rem)
        *rem = static_cast<std::uint32_t>(r);
    return q;
}

bool operator==(const BigInt &a, const BigInt &b)
{
    return a.neg_ == b.neg_ && a.limbs_ == b.limbs_;
}

bool operator<(const BigInt &a, const BigInt &b)
{
    if (a.neg_ != b.neg_)
        return a.neg_;
    int c = BigInt::cmp_abs(a, b);
    return a.neg_ ? c > 0 : c < 0;
}

BigInt factorial(unsigned n)
{
    BigInt r = 1;
    for (unsigned i = 2; i <= n; i++)
        r *= BigInt(i);
    return r;
}

BigInt power(BigInt base, unsigned e)
{
    BigInt r = 1;
    while (e) {
        if (e & 1)
            r *= base;
        base *= base;
        e >>= 1;
    }
    return r;
}

}  // namespace demo

extern "C" size_t demo_factorial_digits(unsigned n, char *out, size_t cap)
{
    std::string s = demo::factorial(n).str();
    if (s.size() + 1 > cap)
        return 0;
    std::memcpy(out, s.c_str(), s.size() + 1);
    return s.size();
}

extern "C" void selftest_bigint(demo_check *c)
{
    using demo::BigInt;
    CHECK_STR(c, demo::factorial(30).str().c_str(), "265252859812191058636308480000000");
    CHECK_STR(c, demo::power(2, 100).str().c_str(), "1267650600228229401496703205376");
    CHECK_STR(c, (BigInt(1000000000) - BigInt(1)).str().c_str(), "999999999");
    CHECK_STR(c, (BigInt(5) - BigInt::parse("12345678901234567890")).str().c_str(),
              "-12345678901234567885");
    BigInt x = BigInt::parse("-000123456789012345678901234567890");
    CHECK_STR(c, x.str().c_str(), "-123456789012345678901234567890");
    CHECK(c, x < BigInt(0) && BigInt(-5) < BigInt(3) && BigInt(-7) < BigInt(-6));
    CHECK(c, (x + (-x)).is_zero());
    std::uint32_t rem = 0;
    CHECK_STR(c, demo::factorial(25).divmod(7, &rem).str().c_str(),
              "2215887149047283712000000");
    CHECK_EQ(c, rem, 0);
    CHECK_EQ(c, demo::factorial(100).digits(), 158);
    char buf[64];
    CHECK_EQ(c, demo_factorial_digits(20, buf, sizeof buf), 19);
    CHECK_STR(c, buf, "2432902008176640000");
    bool threw = false;
    try {
        BigInt::parse("12a");
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(c, threw);
}
