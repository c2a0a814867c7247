// polynomial.cpp - dense univariate polynomials over any field-like type,
// instantiated for exact rationals and doubles.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "demo/cxx/rational.hpp"
#include "demo/cxxapi.h"

namespace demo {
namespace {

template <typename T>
class Poly {
public:
    Poly() = default;
    Poly(std::initializer_list<T> c) : c_(c) { trim(); }  // lowest degree first
    explicit Poly(std::vector<T> c) : c_(std::move(c)) { trim(); }

    int degree() const { return static_cast<int>(c_.size()) - 1; }
    T coef(std::size_t i) const { return i < c_.size() ? c_[i] : T(0); }

    T operator()(const T &x) const
    {
        T acc = T(0);  // Horner
        for (auto it = c_.rbegin(); it != c_.rend(); ++it)
            acc = acc * x + *it;
        return acc;
    }

    friend Poly operator+(const Poly &a, const Poly &b)
    {
        std::vector<T> r(std::max(a.c_.size(), b.c_.size()), T(0));
        for (std::size_t i = 0; i < r.size(); i++)
            r[i] = a.coef(i) + b.coef(i);
        return Poly(std::move(r));
    }

    friend Poly operator*(const Poly &a, const Poly &b)
    {
        if (a.c_.empty() || b.c_.empty())
            return Poly();
        std::vector<T> r(a.c_.size() + b.c_.size() - 1, T(0));
        for (std::size_t i = 0; i < a.c_.size(); i++)
            for (std::size_t j = 0; j < b.c_.size(); j++)
                r[i + j] = r[i + j] + a.c_[i] * b.c_[j];
        return Poly(std::move(r));
    }

    Poly derivative() const
    {
        std::vector<T> r;
        for (std::size_t i = 1; i < c_.size(); i++)
            r.push_back(c_[i] * T(static_cast<long long>(i)));
        return Poly(std::move(r));
    }

    // Long division by a non-zero divisor: returns {quotient, remainder}.
    std::pair<Poly, Poly> divmod(const Poly &d) const
    {
        std::vector<T> rem = c_, quo;
        if (c_.size() >= d.c_.size())
            quo.assign(c_.size() - d.c_.size() + 1, T(0));
        for (std::size_t k = quo.size(); k-- > 0;) {
            T f = rem[k + d.c_.size() - 1] / d.c_.back();
            quo[k] = f;
            for (std::size_t j = 0; j < d.c_.size(); j++)
                rem[k + j] = rem[k + j] - f * d.c_[j];
        }
        return {Poly(std::move(quo)), Poly(std::move(rem))};
    }

    template <typename Fmt>
    std::string str(Fmt fmt) const
    {
        if (c_.empty())
            return "0";
        std::string out;
        for (std::size_t i = c_.size(); i-- > 0;) {
            if (c_[i] == T(0))
                continue;
            if (!out.empty())
                out += " + ";
            out += fmt(c_[i]);
            if (i >= 1)
                out += "x";
            if (i >= 2)
                out += "^" + std::to_string(i);
        }
        return out;
    }

private:
    void trim()
    {
        while (!c_.empty() && c_.back() == T(0))
            c_.pop_back();
    }

    std::vector<T> c_;
};

// Newton's method on a double polynomial, from a fixed start for determinism.
double newton_root(const Poly<double> &p, double x0)
{
    Poly<double> dp = p.derivative();
    double x = x0;
    for (int i = 0; i < 100; i++) {
        double step = p(x) / dp(x);
        x -= step;
        if (std::fabs(step) < 1e-15)
            break;
    }
    return x;
}

}  // namespace
}  // namespace demo

extern "C" void selftest_polynomial(demo_check *c)
{
    using demo::Q;
    using P = demo::Poly<Q>;
    auto qs = [](const Q &q) { return q.str(); };
    P x1{Q(1), Q(1)};  // 1 + x
    P p = x1 * x1 * x1 * x1 * x1;
    CHECK_STR(c, p.str(qs).c_str(), "1x^5 + 5x^4 + 10x^3 + 10x^2 + 5x + 1");
    CHECK_STR(c, p(Q(1, 2)).str().c_str(), "243/32");
    CHECK_STR(c, p.derivative().str(qs).c_str(), "5x^4 + 20x^3 + 30x^2 + 20x + 5");
    auto [q, r] = p.divmod(P{Q(-1), Q(1)});  // divide by x - 1
    CHECK_EQ(c, q.degree(), 4);
    CHECK_STR(c, r.str(qs).c_str(), "32");  // remainder is p(1)
    CHECK(c, (q * P{Q(-1), Q(1)} + r).str(qs) == p.str(qs));
    CHECK_EQ(c, (P{} * p).degree(), -1);

    demo::Poly<double> cubic{-2.0, 0.0, 0.0, 1.0};  // x^3 - 2
    CHECK_NEAR(c, demo::newton_root(cubic, 1.0), 1.2599210498948732, 1e-14);
}
