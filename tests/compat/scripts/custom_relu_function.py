"""Custom autograd Functions whose forward and backward use tensor methods, as in PyTorch's
tutorial and the ``torch.autograd.Function`` docs: MyReLU (``input.clamp(min=0)``,
``grad_output.clone()`` and a masked assignment) in a two-layer network trained with
manual updates, Exp (saves its output), MulConstant (a non-tensor argument)."""

import json

import numpy as np
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class Exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


class MulConstant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor, constant):
        ctx.constant = constant
        return tensor * constant

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.constant, None


rng = np.random.default_rng(0)
dtype = torch.float
N, D_in, H, D_out = 32, 50, 20, 5
x = torch.tensor(rng.standard_normal((N, D_in)), dtype=dtype)
y = torch.tensor(rng.standard_normal((N, D_out)), dtype=dtype)
w1 = torch.tensor(rng.standard_normal((D_in, H)), dtype=dtype, requires_grad=True)
w2 = torch.tensor(rng.standard_normal((H, D_out)), dtype=dtype, requires_grad=True)

learning_rate = 1e-5
for t in range(300):
    relu = MyReLU.apply
    y_pred = relu(x.mm(w1)).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()

v = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
e = Exp.apply(v)
m = MulConstant.apply(e, 3.0)
m.sum().backward()

relu_in = torch.tensor(rng.uniform(0.1, 1.0, 8) * rng.choice([-1, 1], 8), dtype=torch.double,
                       requires_grad=True)  # fmt: skip
results = {
    "loss": loss.item(),
    "w2_sum": w2.sum().item(),
    "w1_norm": w1.norm().item(),
    "exp_values": e.tolist(),
    "chain_grad": v.grad.tolist(),
    "gradcheck_relu": torch.autograd.gradcheck(MyReLU.apply, (relu_in,)),
    "gradcheck_exp": torch.autograd.gradcheck(Exp.apply, (relu_in,)),
}
print(json.dumps(results))
