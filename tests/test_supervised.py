import torch

from sslib import nets
from sslib.methods import Supervised


def test_predictions_are_the_argmax_of_the_network_in_eval_mode_and_keep_the_mode():
    torch.manual_seed(0)
    method = Supervised(nets.StridedCNN(1, widths=(4, 8), strides=(2, 2)), 10).train()
    images = torch.randint(0, 256, (7, 1, 12, 12), dtype=torch.uint8)
    guess = method.predictions(images, batch_size=3)  # batches of 3, 3 and 1
    assert guess.shape == (7,) and guess.dtype == torch.int64
    assert method.training  # the mode it was in
    method.eval()
    with torch.no_grad():
        expected = method.head(method.encoder(images.float() / 255)).argmax(dim=1)
    assert torch.equal(guess, expected)
