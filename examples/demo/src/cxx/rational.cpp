// rational.cpp - exact fraction arithmetic: harmonic numbers, Egyptian fractions,
// continued fractions and Bernoulli numbers.
#include "demo/cxx/rational.hpp"

#include <string>
#include <vector>

#include "demo/cxxapi.h"

namespace demo {
namespace {

Q harmonic(int n)
{
    Q h = 0;
    for (int k = 1; k <= n; k++)
        h += Q(1, k);
    return h;
}

// Greedy (Fibonacci-Sylvester) expansion into distinct unit fractions.
std::vector<long long> egyptian(Q q)
{
    std::vector<long long> dens;
    while (q.num() != 0) {
        long long d = (q.den() + q.num() - 1) / q.num();
        dens.push_back(d);
        q = q - Q(1, d);
    }
    return dens;
}

std::vector<long long> continued_fraction(Q q)
{
    std::vector<long long> terms;
    long long n = q.num(), d = q.den();
    while (d != 0) {
        long long a = n / d;
        if (n % d != 0 && n < 0)
            a--;  // floor, not truncation
        terms.push_back(a);
        long long r = n - a * d;
        n = d;
        d = r;
    }
    return terms;
}

// B_0..B_n with the B_1 = -1/2 convention (Akiyama-Tanigawa would give +1/2).
std::vector<Q> bernoulli(int n)
{
    std::vector<Q> b(static_cast<std::size_t>(n) + 1);
    b[0] = 1;
    for (int m = 1; m <= n; m++) {
        Q sum = 0;
        long long binom = 1;  // C(m+1, k)
        for (int k = 0; k < m; k++) {
            sum += Q(binom) * b[static_cast<std::size_t>(k)];
            binom = binom * (m + 1 - k) / (k + 1);
        }
        b[static_cast<std::size_t>(m)] = Q(-1, m + 1) * sum;
    }
    return b;
}

std::string join_ll(const std::vector<long long> &v)
{
    std::string out;
    for (std::size_t i = 0; i < v.size(); i++)
        out += (i ? "," : "") + std::to_string(v[i]);
    return out;
}

}  // namespace
}  // namespace demo

extern "C" void selftest_rational(demo_check *c)
{
    using demo::Q;
    CHECK_STR(c, (Q(1, 2) + Q(1, 3)).str().c_str(), "5/6");
    CHECK_STR(c, (Q(3, -9)).str().c_str(), "-1/3");
    CHECK_STR(c, (Q(2, 3) * Q(9, 4)).str().c_str(), "3/2");
    CHECK_STR(c, (Q(1, 2) / Q(1, 4)).str().c_str(), "2");
    CHECK(c, Q(1, 3) < Q(1, 2) && !(Q(1, 2) < Q(1, 3)));
    CHECK_STR(c, demo::harmonic(20).str().c_str(), "55835135/15519504");
    CHECK_NEAR(c, demo::harmonic(20).to_double(), 3.597739657143682, 1e-12);
    CHECK_STR(c, demo::join_ll(demo::egyptian(Q(4, 13))).c_str(), "4,18,468");
    CHECK_STR(c, demo::join_ll(demo::continued_fraction(Q(415, 93))).c_str(), "4,2,6,7");
    CHECK_STR(c, demo::join_ll(demo::continued_fraction(Q(-7, 3))).c_str(), "-3,1,2");
    auto b = demo::bernoulli(12);
    CHECK_STR(c, b[1].str().c_str(), "-1/2");
    CHECK_STR(c, b[2].str().c_str(), "1/6");
    CHECK_STR(c, b[3].str().c_str(), "0");
    CHECK_STR(c, b[12].str().c_str(), "-691/2730");
    bool threw = false;
    try {
        Q bad(1, 0);
    } catch (const std::domain_error &) {
        threw = true;
    }
    CHECK(c, threw);
}
