// rational.hpp - exact fractions over an integer type, always in lowest terms.
#ifndef DEMO_CXX_RATIONAL_HPP
#define DEMO_CXX_RATIONAL_HPP

#include <numeric>
#include <stdexcept>
#include <string>

namespace demo {

template <typename T>
class Rational {
public:
    Rational(T num = 0, T den = 1) : num_(num), den_(den)  // NOLINT: implicit from integers
    {
        if (den_ == 0)
            throw std::domain_error("zero denominator");
        normalize();
    }

    T num() const { return num_; }
    T den() const { return den_; }

    friend Rational operator+(const Rational &a, const Rational &b)
    {
        // divide by the gcd first so intermediate products stay small
        T g = std::gcd(a.den_, b.den_);
        return Rational(a.num_ * (b.den_ / g) + b.num_ * (a.den_ / g), a.den_ / g * b.den_);
    }
    friend Rational operator-(const Rational &a, const Rational &b)
    {
        return a + Rational(-b.num_, b.den_);
    }
    friend Rational operator*(const Rational &a, const Rational &b)
    {
        T g1 = std::gcd(a.num_, b.den_), g2 = std::gcd(b.num_, a.den_);
        if (g1 == 0)
            g1 = 1;
        if (g2 == 0)
            g2 = 1;
        return Rational((a.num_ / g1) * (b.num_ / g2), (a.den_ / g2) * (b.den_ / g1));
    }
    friend Rational operator/(const Rational &a, const Rational &b)
    {
        return a * Rational(b.den_, b.num_);
    }
    friend bool operator==(const Rational &a, const Rational &b)
    {
        return a.num_ == b.num_ && a.den_ == b.den_;
    }
    friend bool operator!=(const Rational &a, const Rational &b) { return !(a == b); }
    friend bool operator<(const Rational &a, const Rational &b)
    {
        return a.num_ * b.den_ < b.num_ * a.den_;
    }
    Rational &operator+=(const Rational &b) { return *this = *this + b; }

    double to_double() const { return static_cast<double>(num_) / static_cast<double>(den_); }
    std::string str() const
    {
        return den_ == 1 ? std::to_string(num_) : std::to_string(num_) + "/" + std::to_string(den_);
    }

private:
    void normalize()
    {
        if (den_ < 0) {
            num_ = -num_;
            den_ = -den_;
        }
        T g = std::gcd(num_, den_);
        if (g > 1) {
            num_ /= g;
            den_ /= g;
        }
    }

    T num_;
    T den_;
};

using Q = Rational<long long>;

}  // namespace demo

#endif
