export { Module, type StateDict, type StateDtype } from './module.js';
export { Conv2d, ConvTranspose2d, BatchNorm2d, MaxPool2d, ReLU, LeakyReLU, Sequential, ModuleList, type ConvOptions } from './layers.js';
export { fanIn, convWeightInit, convBiasInit, uniformInit } from './init.js';
