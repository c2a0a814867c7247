// bigint.hpp - arbitrary-precision signed integers (base 10^9 limbs).
#ifndef DEMO_CXX_BIGINT_HPP
#define DEMO_CXX_BIGINT_HPP

#include <cstdint>
#include <string>
#include <vector>

namespace demo {

class BigInt {
public:
    BigInt() = default;
    BigInt(long long v);  // NOLINT: implicit on purpose, like the builtin integers
    static BigInt parse(const std::string &s);

    std::string str() const;
    bool is_zero() const { return limbs_.empty(); }
    bool negative() const { return neg_; }
    std::size_t digits() const;

    BigInt operator-() const;
    friend BigInt operator+(const BigInt &a, const BigInt &b);
    friend BigInt operator-(const BigInt &a, const BigInt &b);
    friend BigInt operator*(const BigInt &a, const BigInt &b);
    // Division by a small positive divisor; the remainder goes to *rem.
    BigInt divmod(std::uint32_t d, std::uint32_t *rem) const;

    friend bool operator==(const BigInt &a, const BigInt &b);
    friend bool operator<(const BigInt &a, const BigInt &b);
    friend bool operator!=(const BigInt &a, const BigInt &b) { return !(a == b); }

    BigInt &operator+=(const BigInt &b) { return *this = *this + b; }
    BigInt &operator*=(const BigInt &b) { return *this = *this * b; }

private:
    static constexpr std::uint32_t kBase = 1000000000u;
    static int cmp_abs(const BigInt &a, const BigInt &b);
    static std::vector<std::uint32_t> add_abs(const std::vector<std::uint32_t> &a,
                                              const std::vector<std::uint32_t> &b);
    static std::vector<std::uint32_t> sub_abs(const std::vector<std::uint32_t> &a,
                                              const std::vector<std::uint32_t> &b);
    void trim();

    std::vector<std::uint32_t> limbs_;  // little-endian; empty means zero
    bool neg_ = false;
};

BigInt factorial(unsigned n);
BigInt power(BigInt base, unsigned e);

}  // namespace demo

#endif
