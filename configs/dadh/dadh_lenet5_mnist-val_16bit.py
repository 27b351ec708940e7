# dadh_lenet5_mnist_16bit.py validated on held-out training images: 50 per
# class (500) are cut from the 5,000 training images (seeded) and retrieve
# from the other 4,500, which are all the model trains on. Knobs are chosen
# with this config, never on the protocol's queries; the test loader keeps
# protocol 'a' (1,000 queries, 64,000 database images).
_base_ = ['./dadh_lenet5_mnist_16bit.py']

validation = dict(num_per_class=50, seed=0)
train_dataloader = dict(dataset=dict(validation=validation))
val_dataloader = dict(
    dataset=dict(
        query=dict(split='val', validation=validation),
        database=dict(split='train', validation=validation)))
