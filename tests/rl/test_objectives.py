"""The DQN target, the ε schedule and PPO's clipped objective on small worked examples."""

from __future__ import annotations

import numpy as np

import nnlab
from nnlab.rl.dqn import dqn_targets, linear_schedule
from nnlab.rl.ppo import ppo_clip_loss

NEXT_Q_TARGET = np.array([[1.0, 5.0], [3.0, 4.0]])
NEXT_Q_ONLINE = np.array([[2.0, 1.0], [0.0, 9.0]])


def test_dqn_target_takes_the_target_networks_max():
    # y0 = 1 + 0.9·max(1, 5) = 5.5; y1 = 2 (terminated: no bootstrap)
    y = dqn_targets(np.array([1.0, 2.0]), np.array([0.0, 1.0]), NEXT_Q_TARGET, 0.9)
    np.testing.assert_allclose(y, [5.5, 2.0], rtol=0, atol=1e-12)


def test_double_dqn_target_values_the_online_argmax():
    # the online net prefers action 0 in row 0: y0 = 1 + 0.9·Q_target(s', 0) = 1.9
    y = dqn_targets(np.array([1.0, 2.0]), np.array([0.0, 1.0]), NEXT_Q_TARGET, 0.9, NEXT_Q_ONLINE)
    np.testing.assert_allclose(y, [1.9, 2.0], rtol=0, atol=1e-12)


def test_linear_epsilon_schedule():
    values = [linear_schedule(1.0, 0.04, 0.16, p) for p in (0.0, 0.08, 0.16, 0.5, 1.0)]
    np.testing.assert_allclose(values, [1.0, 0.52, 0.04, 0.04, 0.04], rtol=0, atol=1e-12)


def test_ppo_clip_values_and_zero_gradient_where_clipped():
    # ε = 0.2. Per element, min(ρA, clip(ρ)A):
    #   ρ 1.1, A  2: inside            -> 2.2,  dL/dρ = -A/6
    #   ρ 1.5, A  1: above, A > 0      -> 1.2,  clipped: 0
    #   ρ 0.5, A  1: below, A > 0      -> 0.5,  the pessimistic side: -A/6
    #   ρ 0.7, A -1: below, A < 0      -> -0.8, clipped: 0
    #   ρ 1.5, A -1: above, A < 0      -> -1.5, the pessimistic side: -A/6
    #   ρ 0.5, A -1: below, A < 0      -> -0.8, clipped: 0
    adv = [2.0, 1.0, 1.0, -1.0, -1.0, -1.0]
    for dtype in (nnlab.float32, nnlab.float64):
        ratio = nnlab.tensor([1.1, 1.5, 0.5, 0.7, 1.5, 0.5], dtype=dtype, requires_grad=True)
        loss = ppo_clip_loss(ratio, adv, 0.2)
        loss.backward()
        tol = 1e-6 if dtype == nnlab.float32 else 1e-12
        np.testing.assert_allclose(loss.item(), -(2.2 + 1.2 + 0.5 - 0.8 - 1.5 - 0.8) / 6, atol=tol)
        expected = np.array([-2.0, 0.0, -1.0, 0.0, 1.0, 0.0]) / 6
        np.testing.assert_allclose(ratio.grad.numpy(), expected, rtol=0, atol=tol)
